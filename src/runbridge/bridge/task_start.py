"""A tool call run as a task: the task stored with its run before the client is answered (`TaskStart.bind`), and
the call's task while the tool runs (`as_task`, `starting`)."""

from __future__ import annotations

import secrets
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta

import anyio

from ..core.errors import RunbridgeError
from ..core.models import utc_now
from ..state import TaskRecord
from .app import App
from .results import RunReport
from .tasks import LEASE_SECONDS, MAX_TTL_MS, POLL_MS, TTL_MS, Progress, TaskTaken, book_of, follow_task

__all__ = ["TaskStart", "as_task", "starting", "ttl_of"]


@dataclass
class TaskStart:
    """A tool call that asked to run as a task: what the task will be, and, once the tool has a run to follow,
    the task bound to it (`bound` is set then)."""

    tool: str
    owner: str | None
    ttl_ms: int | None = TTL_MS
    poll_ms: int = POLL_MS
    progress: Progress | None = None
    bound: anyio.Event = field(default_factory=anyio.Event)
    task: TaskRecord | None = None
    report: RunReport | None = None  # how the run ended, once it has
    interrupted: bool = False  # runbridge stopped while following: the task is left for the next one to take up

    async def bind(
        self, app: App, profile: str, run_id: str, *, cursor: str | None, target_id: str | None
    ) -> RunReport:
        """Store the task with its run (before the client is answered), then follow the run to its end."""
        book = book_of(app)
        now = utc_now()
        task = TaskRecord(
            task_id=f"{profile}/{run_id}/{secrets.token_urlsafe(9)}",
            profile=profile,
            run_id=run_id,
            tool=self.tool,
            status="working",
            created_at=now,
            updated_at=now,
            ttl_ms=self.ttl_ms,
            poll_ms=self.poll_ms,
            owner=self.owner,
            status_message="following the run",
            runner=app.registry.owner,  # this process follows it from the start: no other takes it meanwhile
            runner_until=now + timedelta(seconds=LEASE_SECONDS),
        )
        await app.registry.record_task(task)
        live = book.live_of(task.task_id)
        live.progress = self.progress
        self.task = task
        self.bound.set()
        try:
            with anyio.CancelScope() as scope:
                live.scope = scope
                self.report = report = await follow_task(book, task, cursor=cursor, target_id=target_id)
                return report
            raise RunbridgeError("The task was cancelled.")  # tasks/cancel: the run was cancelled, the task with it
        except (anyio.get_cancelled_exc_class(), TaskTaken):
            self.interrupted = True  # runbridge is stopping, or another took over: the task is not over, only our part
            raise
        finally:
            if self.report is None:
                await book.release(task)  # stopping: the next runbridge takes it up


def ttl_of(requested: int | None) -> int:
    """The ttl a task gets: what the client asked for within runbridge's bound, else the default."""
    if requested is None or requested <= 0:
        return TTL_MS
    return min(int(requested), MAX_TTL_MS)


_starting: ContextVar[TaskStart | None] = ContextVar("runbridge_task_start", default=None)


def starting() -> TaskStart | None:
    """The task this tool call runs as, if it asked for one."""
    return _starting.get()


@contextmanager
def as_task(start: TaskStart) -> Generator[TaskStart]:
    token = _starting.set(start)
    try:
        yield start
    finally:
        _starting.reset(token)
