"""One run as runbridge received it: its events in order, and what they say about the run now.

For backends that stream a run's events only on the answer to the POST that starts (or resumes) it, with no way to
read them again nor the run's status (Synapse v1: see docs/backends/orchestrations.md). The adapter reads each such
stream into the run's log in the background, and `watch` reads the log: every event after a cursor exactly once,
waiting (without polling) while the run waits at a gate. The log also holds the guard such servers lack: a gate is
resumed at most once, and never after the run ended or was cancelled.

Sequence numbers are a local counter. A log made for a run runbridge had not seen in this process (its gate
answered after a restart) starts counting after the gate's own sequence, so that the cursor the bridge saved
before the restart still points before the new events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Generic, Protocol, TypeVar

import anyio
import httpx2

from ..core.errors import CursorError, RunbridgeError, StreamError
from ..core.models import EventKind, Gate, RunEvent, RunStatus, StepRef, Usage
from ..core.protocols import EventPage

__all__ = ["BROKEN", "EventFeed", "RunLog", "follow_log", "log_page", "stream_problem"]

BROKEN = (
    RunbridgeError,
    httpx2.HTTPError,
    httpx2.StreamError,
    OSError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)
"""What reading a run's stream raises when the backend or the connection fails; anything else is a bug in
runbridge."""


def stream_problem(exc: Exception) -> str:
    """Why a stream broke (one of `BROKEN`), in the words of "Lost the event stream of run ... (why)"."""
    if isinstance(exc, RunbridgeError):
        return str(exc)
    if isinstance(exc, httpx2.TimeoutException):
        return "no data arrived within the stream read timeout"
    return f"the connection broke ({type(exc).__name__})"


class EventFeed(Protocol):
    """A family's wire events → runbridge's events, one stream at a time."""

    def feed(self, raw: dict[str, Any], seq: str) -> list[RunEvent]:
        """The events one wire event makes (none for markers)."""
        ...

    def finish(self) -> list[RunEvent]:
        """What is still pending when the stream ends (a folded terminal event)."""
        ...


F = TypeVar("F", bound=EventFeed)

_LOST = "The run goes on on the server, but runbridge can no longer see it."


class RunLog(Generic[F]):
    """Events and state of one run. Mutated only on the event loop, between awaits.

    `ends_with`: the wire event type that closes a stream; `lost`: what a broken stream means for this family (said
    after "Lost the event stream of run ... (why)")."""

    def __init__(
        self,
        run_id: str,
        mapper: F,
        *,
        target_id: str | None = None,
        base: int = 0,
        ends_with: str = "done",
        lost: str = _LOST,
    ) -> None:
        self.run_id = run_id
        self.target_id = target_id
        self.mapper = mapper
        self.base = base
        self._ends_with = ends_with
        self._lost = lost
        self.events: list[RunEvent] = []
        self.status = RunStatus.RUNNING
        self.current_step: StepRef | None = None
        self.open_gate: Gate | None = None
        self.answered: set[str] = set()
        self.cancelled = False
        self.abandoned: str | None = None  # why and how runbridge gave the run up (v1 has no cancel)
        self.abandoned_at_gate = False  # it waited at a gate then, where the server still shows it paused
        self.ended = False
        self.broken: str | None = None
        self._streams = 0  # streams being read into the log: a resume's may start before the last one ended
        self.outputs: Any = None
        self.error: str | None = None
        self.usage: Usage | None = None
        self.step_history: list[Any] = []
        self._changed = anyio.Event()

    # -- writing ---------------------------------------------------------------------------------------------

    def take(self, raw: dict[str, Any]) -> bool:
        """Add what one wire event says; False once it was the stream's `done`."""
        for event in self.mapper.feed(raw, ""):
            self.append(event)
        return raw.get("type") != self._ends_with

    def append(self, event: RunEvent) -> None:
        if self.ended:
            return  # nothing follows the end (a late stream of a run that is over)
        event.seq = str(self.base + len(self.events) + 1)
        if event.gate is not None:
            event.gate.resume["seq"] = event.seq
        self.events.append(event)
        self.observe(event)
        self._wake()

    def observe(self, event: RunEvent) -> None:
        """Update the run's state from one of its events (also for events read elsewhere, as v2 watches are)."""
        kind = event.kind
        if kind is EventKind.STEP_STARTED and event.step is not None:
            self.current_step, self.status = event.step, RunStatus.RUNNING
        elif kind in (EventKind.RUN_STARTED, EventKind.GATE_RESOLVED):
            self.status = RunStatus.RUNNING
        elif kind is EventKind.GATE_OPENED and event.gate is not None:
            self.open_gate, self.current_step, self.status = event.gate, event.gate.step, RunStatus.WAITING
        elif kind.terminal:
            self.ended, self.open_gate, self.current_step = True, None, None
            self.status = kind.terminal_status or RunStatus.UNKNOWN
            self.outputs = event.data.get("outputs")
            self.error = event.data.get("error")
            self.step_history = list(event.data.get("step_history") or [])
            self.usage = event.usage

    @property
    def streaming(self) -> bool:
        return self._streams > 0

    def begin_stream(self) -> None:
        self._streams += 1
        self.broken = None

    def resumed(self, gate: Gate) -> None:
        """The server took the answer: the gate is behind the run, whose next events follow."""
        self.open_gate = None
        self.append(
            RunEvent(
                kind=EventKind.GATE_RESOLVED,
                raw_type="resume",
                seq="",
                run_id=self.run_id,
                step=gate.step,
                text="gate answered; resuming",
                gate_id=gate.gate_id,
            )
        )

    def stream_ended(self, problem: str | None = None) -> None:
        """A stream into this log is over. Unless the run now waits at a gate or has ended, it was cut short:
        the stream cannot be re-attached, so the log is broken and a watch says so."""
        self._streams -= 1
        if self._streams > 0:
            return  # the run stream's tail (its `done`) after the resume's stream began: that one carries on
        for event in self.mapper.finish():
            self.append(event)
        if not self.ended and self.open_gate is None:
            what = problem or "the stream ended before the run reached a gate or its end"
            self.broken = f"Lost the event stream of run {self.run_id} ({what}). {self._lost}"
        self._wake()

    def abandon(self, note: str, *, text: str = "run abandoned at its gate") -> None:
        """End the log without the server's say (for a server with no cancel): watchers stop, the gate is never
        answered. `note` says why and how, `text` is the event's progress text."""
        self.cancelled, self.abandoned, self.abandoned_at_gate = True, note, self.open_gate is not None
        self.append(
            RunEvent(
                kind=EventKind.RUN_CANCELLED,
                raw_type="abandoned",
                seq="",
                run_id=self.run_id,
                text=text,
                data={"status": "cancelled", "note": note},
                note=note,
            )
        )

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    # -- reading ---------------------------------------------------------------------------------------------

    def index_after(self, cursor: str | None) -> int:
        """The position of the first event after `cursor` (a sequence this log gave out, or none)."""
        if not cursor:
            return 0
        if not cursor.isdigit():
            raise CursorError(cursor)
        return min(max(int(cursor) - self.base, 0), len(self.events))

    async def wait_beyond(self, count: int) -> None:
        """Until the log holds more than `count` events, or nothing more can come (ended, or broken)."""
        while len(self.events) <= count and not self.ended and not (self.broken and not self.streaming):
            await self._changed.wait()


def log_page(log: RunLog[Any], cursor: str | None) -> EventPage:
    """Every event of the log after `cursor`, as it is now; a log whose stream was lost and holds nothing after the
    cursor says so (as `follow_log` does) rather than look like a run with nothing new."""
    index = log.index_after(cursor)
    if index >= len(log.events) and not log.ended and log.broken is not None and not log.streaming:
        raise StreamError(log.broken)
    return EventPage(events=log.events[index:], complete=log.ended)


async def follow_log(log: RunLog[Any], cursor: str | None) -> AsyncIterator[RunEvent]:
    """Every event of the log after `cursor` exactly once, until the terminal one; waits while the run waits."""
    index = log.index_after(cursor)
    while True:
        while index < len(log.events):
            event = log.events[index]
            index += 1
            yield event
            if event.terminal:
                return
        if log.ended:
            return
        if log.broken is not None and not log.streaming:
            raise StreamError(log.broken)
        await log.wait_beyond(index)
