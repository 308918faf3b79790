"""Finding a run: runbridge's record of it (with the adapter's locator handed back), or the backend's word that it
exists. A run record is created only for a run runbridge started, or one its backend confirmed: an id neither knows
(a typo) is "no such run", and leaves nothing behind."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from ..core.config import Profile
from ..core.errors import NotFoundError
from ..core.models import Run, RunStatus
from ..core.protocols import RunLocatorAPI
from ..state import RunRecord, RunStore
from .users import current_user, visible_to

if TYPE_CHECKING:
    from .app import App

__all__ = ["keep_locator", "known_run", "locate", "must_exist", "no_such_run", "run_backend"]

T = TypeVar("T")


async def locate(store: RunStore, profile: str, backend: object, run_id: str) -> RunRecord | None:
    """runbridge's record of the run (None: it has none), its locator handed to an adapter that notes one, so that
    a run started before a restart, or by another runbridge process, is reached as this one would. Every path that
    asks a backend about a stored run (a gate's, a task's) goes through here or `run_backend` first."""
    record = await store.get_run(profile, run_id)
    if record is not None and record.locator and isinstance(backend, RunLocatorAPI):
        backend.locate_run(run_id, record.locator)
    return record


async def run_backend(
    app: App, profile: str | None, capability: str, api: type[T], run_id: str
) -> tuple[Profile, T, RunRecord | None]:
    """The profile's adapter as `api` (`Adapters.require`), with `run_id` located on it, and runbridge's record of
    the run."""
    chosen, backend = app.adapters.require(profile, capability, api)
    return chosen, backend, await locate(app.registry, chosen.name, backend, run_id)


async def known_run(store: RunStore, profile: str, backend: object, run_id: str) -> RunRecord | None:
    """`locate` for a caller's request. With a user (`[auth]`), another user's run is "no such run", and so is a run
    no user owns, one runbridge has no record of included, unless the token is an operator's (`bridge/users.py`):
    its backend is not even asked."""
    record = await store.get_run(profile, run_id)
    if not visible_to(current_user(), record):  # as if there were none
        raise no_such_run(profile, run_id)
    return await locate(store, profile, backend, run_id)


def no_such_run(profile: str, run_id: str) -> NotFoundError:
    """A run neither runbridge nor its backend knows: the backend cannot confirm it (it reports no status for a run
    runbridge did not start or follow, as Synapse v1)."""
    return NotFoundError(
        f"No such run {run_id!r} on profile {profile!r}: runbridge has no record of it, and its backend cannot "
        "confirm it exists (it reports no status for a run runbridge did not start or follow). Check the id: "
        "runs_list shows the runs runbridge knows",
        status=404,
    )


def must_exist(profile: str, run: Run, record: RunRecord | None) -> None:
    """A run runbridge has no record of is one its backend confirms (a status it knows, not `unknown`), or it is
    "no such run"."""
    if record is None and run.status is RunStatus.UNKNOWN:
        raise no_such_run(profile, run.run_id)


async def keep_locator(store: RunStore, profile: str, run: Run, record: RunRecord | None = None) -> None:
    """Store what the adapter says finds `run` again, where runbridge's record does not hold it yet."""
    if not run.locator:
        return
    if record is not None and (record.locator or {}).items() >= run.locator.items():
        return
    await store.set_locator(profile, run.run_id, run.locator)
