"""Runs as MCP tasks: a task bound to a backend run, stored with it, followed in the background to its end.

A client that asked for a task (the 2026 tasks extension, or a 2025 task-augmented `tools/call`) runs the tool as
usual until the tool has a run to follow; there, instead of the hybrid wait, the task is stored with the run
(`task_start.TaskStart.bind`) and the client is answered at once with it. The tool then goes on in the background:
the run is followed round after round (`follow_task`), every event updating the task's status message (and progress,
for a client that sent a token), a gate making the task `input_required` until a person answers it (through the
task, `gates_respond`, or the backend's own interface), and the run's end ending the task with the tool's result.

Everything the task needs is in the run store (`TaskRecord`), so after a restart, or on another process sharing the
store, the next read of the task follows the run on (`TaskBook.ensure_followed`); one process at a time does,
holding the task's lease.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp_types import CallToolResult

from ..core import budget
from ..core.errors import RunbridgeError
from ..core.models import RunStatus
from ..core.protocols import RunsAPI
from ..state import TaskRecord, TaskStatus
from .app import App
from .caller import Caller, Channel
from .following import FollowedRun, answered_note
from .locating import run_backend
from .output import tool_result
from .results import RunReport
from .watch import Follower

__all__ = [
    "LEASE_SECONDS",
    "MAX_TTL_MS",
    "POLL_MS",
    "TTL_MS",
    "Live",
    "Progress",
    "TaskBook",
    "TaskTaken",
    "book_of",
    "follow_task",
    "result_doc",
]

log = logging.getLogger("runbridge.tasks")

ROUND_SECONDS = 60.0  # one round of following; no client waits on it, the task goes on with the next
LEASE_SECONDS = ROUND_SECONDS + 60.0  # another process takes the task over only once this lapses
GATE_CHECK_SECONDS = 2.0  # how often a task waiting on a gate looks whether it was answered elsewhere
BACKEND_CHECK_SECONDS = 20.0  # ... and asks the backend whether the run still waits (answered in its own UI)
QUIET_SECONDS = 5.0  # before following again a run that is paused, or whose stream was lost
POLL_MS = 2000  # what a client is told to poll at
TTL_MS = 7 * 24 * 3600 * 1000  # how long a task is kept by default (runs take minutes to hours; people answer late)
MAX_TTL_MS = 30 * 24 * 3600 * 1000
_MESSAGE_EVERY = 0.5  # seconds between two status-message writes from progress

Progress = Callable[[float, float | None, str], Awaitable[None]]
Listener = Callable[[TaskRecord], Awaitable[None]]


def result_doc(result: Any) -> dict[str, Any]:
    """A tool's result as the JSON object a task keeps (`CallToolResult` on the wire, camelCase)."""
    if isinstance(result, RunReport):
        result = tool_result(result)
    if isinstance(result, CallToolResult):
        doc = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        doc.pop("resultType", None)
        return doc
    if isinstance(result, dict):
        return dict(result)  # pyright: ignore[reportUnknownArgumentType]
    raise TypeError(f"not a tool result: {type(result).__name__}")


@dataclass
class Live:
    """A task this process follows: how to stop it, wake it, and whom to tell."""

    scope: anyio.CancelScope | None = None
    wake: anyio.Event = field(default_factory=anyio.Event)
    progress: Progress | None = None
    listeners: list[Listener] = field(default_factory=lambda: [])

    def poke(self) -> None:
        self.wake.set()
        self.wake = anyio.Event()


class TaskBook:
    """The tasks of one App that this process follows, and how they are told, stopped and taken up again."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.live: dict[str, Live] = {}
        self.remote: dict[str, list[Listener]] = {}  # listeners also told of changes another process made
        self.publish: Callable[[str], Awaitable[None]] | None = None  # tells the other processes (a shared store)

    def live_of(self, task_id: str) -> Live:
        return self.live.setdefault(task_id, Live())

    def listen(self, task_id: str, listener: Listener, *, remote: bool) -> None:
        """Tell `listener` the task's status changes made here, and with `remote` those other processes make."""
        self.live_of(task_id).listeners.append(listener)
        if remote:
            self.remote.setdefault(task_id, []).append(listener)

    def unlisten(self, task_id: str, listener: Listener) -> None:
        """Stop telling `listener` about the task (wherever it was told)."""
        remote = self.remote.get(task_id, [])
        if listener in remote:
            remote.remove(listener)
        if not remote:
            self.remote.pop(task_id, None)
        live = self.live.get(task_id)
        if live is not None and listener in live.listeners:
            live.listeners.remove(listener)

    async def set(self, task: TaskRecord, **changes: Any) -> TaskRecord:
        """Record where the task stands, and tell its listeners when its status changed."""
        now = await self.app.registry.update_task(task.task_id, **changes)
        now = now or task
        if now.status != task.status or changes.get("status") is not None:
            await self.tell(now)
        return now

    async def tell(self, task: TaskRecord) -> None:
        """Tell the task's listeners where it stands. One that is gone (its stream closed) is dropped; one that
        fails otherwise is a bug, logged with its traceback, and dropped too: the task goes on either way."""
        if self.publish is not None:
            await self.publish(task.task_id)
        live = self.live.get(task.task_id)
        if live is not None:
            await _tell_each(live.listeners, task)

    async def heard(self, task_id: str) -> None:
        """Another process changed the task: tell the listeners here that wait for such news where it stands."""
        listeners = self.remote.get(task_id)
        task = await self.app.registry.get_task(task_id) if listeners else None
        if listeners and task is not None:
            await _tell_each(listeners, task)

    async def ended(self, task: TaskRecord, report: RunReport | None, result: Any, error: str | None = None) -> None:
        """The tool finished: the task ends `completed` with its result (also when the run failed, or the tool said
        why it could not go on: the result says so), `cancelled` when the run was, and `failed` only when runbridge
        itself could not finish the call (`error`), with no result."""
        status: TaskStatus = "completed"
        failure: dict[str, Any] | None = None
        if error is not None:
            status, result = "failed", None
            failure = {"code": -32603, "message": error}
        elif report is not None and report.status is RunStatus.CANCELLED:
            status = "cancelled"
        doc = result_doc(result) if result is not None else None
        message = error or (f"the run {report.status.value}" if report is not None else "the call ended")
        await self.set(task, status=status, result=doc, error=failure, status_message=message)
        live = self.live.pop(task.task_id, None)
        if live is not None:
            live.poke()

    def ensure_followed(self, task: TaskRecord) -> None:
        """A task nobody follows in this process (runbridge restarted; another process made it) is followed on
        here, in the background, if its lease is free."""
        if task.ended or task.task_id in self.live or self.app.tasks is None:
            return
        self.live_of(task.task_id)
        self.app.tasks.start_soon(self._resume, task)

    async def _resume(self, task: TaskRecord) -> None:
        try:
            with self.app.calls.serving():  # counted like a call: a graceful stop ends it before the store closes
                try:
                    await self._follow_on(task)
                finally:
                    await self.release(task)
        except RunbridgeError:
            return  # runbridge is stopping: the task is left as it is, for the next runbridge to take up

    async def _follow_on(self, task: TaskRecord) -> None:
        live = self.live_of(task.task_id)
        with anyio.CancelScope() as scope:  # cancelled by tasks/cancel, which has ended the task itself
            live.scope = scope
            if not await self.app.registry.claim_task(task.task_id, lease_seconds=LEASE_SECONDS):
                return  # another process follows it
            try:
                report = await follow_task(self, task)
            except TaskTaken:
                return
            except RunbridgeError as exc:
                await self.ended(task, None, None, str(exc))
                return
            await self.ended(task, report, report)

    async def release(self, task: TaskRecord) -> None:
        """This process stops following the task (it ended, or runbridge stops): the lease lapses now, so the next
        runbridge takes the task up at once."""
        self.live.pop(task.task_id, None)
        with anyio.CancelScope(shield=True), anyio.move_on_after(2.0):
            await self.app.registry.claim_task(task.task_id, lease_seconds=0)

    async def progress(self, task: TaskRecord, value: float, total: float | None, message: str) -> None:
        live = self.live.get(task.task_id)
        if live is not None and live.progress is not None:
            try:
                await live.progress(value, total, message)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                live.progress = None  # the client that asked for progress is gone: the task goes on
            except Exception:
                log.exception("progress of task %s could not be sent", task.task_id)
                live.progress = None


class TaskTaken(RunbridgeError):
    """Another process follows the task now (this one's lease lapsed): this one stops, and leaves the task be."""


_books: weakref.WeakKeyDictionary[App, TaskBook] = weakref.WeakKeyDictionary()


async def _tell_each(listeners: list[Listener], task: TaskRecord) -> None:
    for listener in list(listeners):
        try:
            await listener(task)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            listeners.remove(listener)
        except Exception:
            log.exception("telling a listener of task %s failed", task.task_id)
            listeners.remove(listener)


def book_of(app: App) -> TaskBook:
    book = _books.get(app)
    if book is None:
        book = _books[app] = TaskBook(app)
    return book


class _TaskCaller(Caller):
    """A task's "caller": nobody waits on the call, so a gate is never asked live (the task shows it as
    `input_required`), and progress becomes the task's status message (and the client's progress, if it asked)."""

    def __init__(self, book: TaskBook, task: TaskRecord) -> None:  # no request: the call that made it has ended
        self.protocol_version = ""
        self._book = book
        self._task = task
        self._last = 0.0

    def channel(self) -> Channel:
        return "none"

    async def progress(self, value: float, total: float | None, message: str) -> None:
        await self._book.progress(self._task, value, total, message)
        now = anyio.current_time()
        if now - self._last >= _MESSAGE_EVERY:
            self._last = now
            await self._book.app.registry.update_task(self._task.task_id, status_message=message)


async def follow_task(
    book: TaskBook, task: TaskRecord, *, cursor: str | None = None, target_id: str | None = None
) -> RunReport:
    """Follow the task's run round after round until it ends; its gates make the task wait for an answer."""
    app, store = book.app, book.app.registry
    chosen, backend, _ = await run_backend(app, task.profile, "runs", RunsAPI, task.run_id)
    caller = _TaskCaller(book, task)
    decision: str | None = None
    first = True
    while True:
        if not await store.claim_task(task.task_id, lease_seconds=LEASE_SECONDS):
            raise TaskTaken("Another runbridge process follows this task now.")
        record = await store.get_run(task.profile, task.run_id)
        run = FollowedRun(
            chosen.name,
            task.run_id,
            wait=ROUND_SECONDS,
            cursor=cursor if first else (record.cursor if record else None),
            target_id=target_id or (record.target_id if record else None),
            decision=decision,
            said=answered_note(decision) if decision else None,
        )
        first, decision = False, None
        with budget.call_budget(ROUND_SECONDS + 60.0):
            report = await Follower(app, caller, backend, run).follow()
        assert isinstance(report, RunReport), "a task's caller is never asked for input"
        if report.done:
            return report
        gate = report.waiting_for
        if gate is not None and gate.state == "open":
            task = await book.set(task, status="input_required", gate_id=gate.gate_id, status_message=gate.prompt)
            decision = await _answered(book, task, gate.gate_id, backend)
            task = await book.set(task, status="working", status_message=answered_note(decision or "answered"))
            continue
        if report.status is RunStatus.PAUSED or report.source == "lost":
            if report.note:
                await store.update_task(task.task_id, status_message=report.note)
            await _sleep(book, task, QUIET_SECONDS)


async def _answered(book: TaskBook, task: TaskRecord, gate_id: str, backend: RunsAPI) -> str | None:
    """Wait until the gate is no longer open (answered through the task, `gates_respond`, another process, or the
    backend's own interface); the decision, when runbridge recorded one."""
    store = book.app.registry
    asked_backend = anyio.current_time()
    while True:
        record = await store.get_gate(task.profile, gate_id)
        if record is None or record.state in ("answered", "declined", "closed"):
            return record.decision if record else None
        if anyio.current_time() - asked_backend >= BACKEND_CHECK_SECONDS:
            asked_backend = anyio.current_time()
            await store.claim_task(task.task_id, lease_seconds=LEASE_SECONDS)
            try:
                run = await backend.get_run(task.run_id)
            except RunbridgeError:
                run = None
            if run is not None and run.status not in (RunStatus.WAITING, RunStatus.UNKNOWN):
                return None  # the run went on (or ended) without runbridge: follow it to see how
        await _sleep(book, task, GATE_CHECK_SECONDS)


async def _sleep(book: TaskBook, task: TaskRecord, seconds: float) -> None:
    live = book.live_of(task.task_id)
    with anyio.move_on_after(seconds):
        await live.wake.wait()
