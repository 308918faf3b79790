"""A run paused by an operator (OpenWOP's run-level `:pause`): not a gate, nothing a human can answer through
runbridge, and no event comes until it is resumed in the backend. Following such a run would wait out the whole
time in silence, so the run tools report it at once instead."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.errors import RunbridgeError
from ..core.models import EventKind, RunEvent, RunStatus
from ..core.protocols import RunsAPI

__all__ = ["PAUSED_NOTE", "still_paused", "went_on"]

PAUSED_NOTE = (
    "The run is paused in the backend (an operator's pause, not a gate): nothing happens until it is resumed there, "
    "so runbridge stopped following it instead of waiting out the time."
)


async def still_paused(backend: RunsAPI, run_id: str) -> bool:
    """Whether a run runbridge last saw paused still is (its pause came before the cursor, so its stream would
    only wait). A backend that cannot say is taken as "not paused": following tells the rest."""
    try:
        run = await backend.get_run(run_id)
    except RunbridgeError:
        return False
    return run.status is RunStatus.PAUSED


def went_on(ahead: Iterable[RunEvent | Exception]) -> bool:
    """Whether the events already received after a pause say the run went on (it was resumed, or ended)."""
    return any(
        isinstance(item, RunEvent) and (item.kind is EventKind.RUN_RESUMED or item.kind.terminal) for item in ahead
    )
