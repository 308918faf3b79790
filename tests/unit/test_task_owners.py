"""A task belongs to the client identity that made it, where the transport gives one (an authenticated principal):
only that identity reads, lists or cancels it; another is told no such task exists, as for an unknown id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

from runbridge.bridge.app import App
from runbridge.bridge.tasks_ops import list_tasks, read_task
from runbridge.core import Settings
from runbridge.core.errors import NotFoundError
from runbridge.core.models import Run, RunStatus
from runbridge.server.tasks import owner_of
from runbridge.state import SqliteStore, TaskRecord

pytestmark = pytest.mark.anyio


@contextmanager
def signed_in(client_id: str, subject: str) -> Iterator[None]:
    token = AccessToken(token="t", client_id=client_id, scopes=[], subject=subject)
    reset = auth_context_var.set(AuthenticatedUser(token))
    try:
        yield
    finally:
        auth_context_var.reset(reset)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    opened = App(Settings(profiles={}, state_path=":memory:"), SqliteStore(":memory:"))
    yield opened
    await opened.registry.aclose()


async def _task(app: App, owner: str | None) -> TaskRecord:
    await app.registry.record_run("p", Run(run_id="run_1", status=RunStatus.RUNNING))
    now = datetime.now(UTC)
    task = TaskRecord(
        task_id=f"p/run_1/{owner}",
        profile="p",
        run_id="run_1",
        tool="runs_start",
        status="completed",  # ended: reading it starts no follower
        created_at=now,
        updated_at=now,
        ttl_ms=60_000,
        poll_ms=1000,
        owner=owner,
    )
    await app.registry.record_task(task)
    return task


def test_the_owner_is_the_authenticated_principal_or_none() -> None:
    assert owner_of() is None  # stdio, or HTTP behind runbridge's one shared token
    with signed_in("host-a", "alice"):
        alice = owner_of()
    with signed_in("host-a", "bob"):
        bob = owner_of()
    assert alice is not None
    assert bob is not None
    assert alice != bob


async def test_only_the_owner_reads_and_lists_its_task(app: App) -> None:
    with signed_in("host-a", "alice"):
        alice = owner_of()
    with signed_in("host-a", "bob"):
        bob = owner_of()
    task = await _task(app, alice)
    assert (await read_task(app, task.task_id, alice)).task_id == task.task_id
    with pytest.raises(NotFoundError, match="No task"):
        await read_task(app, task.task_id, bob)
    with pytest.raises(NotFoundError, match="No task"):
        await read_task(app, task.task_id, None)  # no identity is not a way around one
    assert [t.task_id for t in (await list_tasks(app, alice, None)).items] == [task.task_id]
    assert (await list_tasks(app, bob, None)).items == []
