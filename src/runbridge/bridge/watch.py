"""The hybrid wait: follow a run for a bounded time, as progress, through its gates, then report.

A run tool follows the backend's event stream for up to `wait` seconds. Every event becomes progress; a gate is
put to the human the way the client allows (see `caller.py`); the terminal event ends the call with the result.
If the run is still going when the time is up, the call returns a durable handle (`runs_watch` continues from
the cursor, so no event is lost or repeated). Cancelling the tool call stops the watching only: the backend run
is never cancelled here.

`Follower` is one call's watch: it reads the stream and decides what each event means; what the call has learned
is its `FollowedRun`, and its gates are put to the human by its `GateAsker`.
"""

from __future__ import annotations

from collections import deque
from contextlib import aclosing
from time import monotonic  # the loop's deadlines reach anyio only as durations; anyio's clock costs more per call
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp_types import InputRequiredResult

from ..core.errors import (
    CursorError,
    NotFoundError,
    RunbridgeError,
    TransportError,
    UnavailableError,
    UnreachableError,
    sentences,
)
from ..core.models import EventKind, Gate, RunEvent, RunStatus
from ..core.protocols import RunsAPI
from ..state import GateRecord, RunRecord
from .app import App
from .asking import GateAsker, Outcome
from .caller import Caller
from .following import FollowedRun
from .leases import recover_claims
from .local_streams import watch_run
from .paused import still_paused, went_on
from .progress import ProgressReporter
from .results import RunReport

__all__ = ["Follower"]

_BUFFER = 1024  # events read ahead of the bridge; the stream reader waits (backpressure) beyond this
_GATE_CHECK_SECONDS = 0.05  # how long a gate waits for the run's snapshot before the human is asked
_QUIET_PROBE_SECONDS = 1.0  # a wait this long without one event asks whether the backend still answers


async def _pump(events: Any, send: MemoryObjectSendStream[RunEvent | Exception]) -> None:
    """Read the backend stream into the buffer; a failure travels as an item so the reader can report it. Once the
    reader is gone (it returned, or failed on its own), the pump just stops: nobody is left to tell."""
    async with send, aclosing(events) as stream:
        try:
            try:
                async for event in stream:
                    try:
                        send.send_nowait(event)  # no loop round-trip per event while the buffer has room
                    except anyio.WouldBlock:
                        await send.send(event)
            except RunbridgeError as exc:
                await send.send(exc)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return


async def _next(receive: MemoryObjectReceiveStream[RunEvent | Exception], within: float) -> RunEvent | Exception | None:
    """The next buffered item (at once when one is there), or None when `within` seconds pass first."""
    try:
        return receive.receive_nowait()
    except anyio.WouldBlock:
        pass
    with anyio.move_on_after(max(within, 0.0)):
        return await receive.receive()
    return None


class Follower:
    """One call following one run: until the run ends, a gate needs a human who cannot be asked now, or `wait`
    runs out."""

    def __init__(self, app: App, caller: Caller, backend: RunsAPI, run: FollowedRun) -> None:
        self.app = app
        self.caller = caller
        self.backend = backend
        self.run = run
        self.gates = GateAsker(run, caller, backend, app.registry, app.settings)
        self._ahead: deque[RunEvent | Exception] = deque()  # received, looked at, not acted on yet
        self._receive: MemoryObjectReceiveStream[RunEvent | Exception] | None = None

    def report(self) -> RunReport:
        return self.run.report(self.app.settings, self.backend)

    async def follow(self) -> RunReport | InputRequiredResult:
        """Follow the run, and report where it stands (or ask for the answer to its gate)."""
        run, store = self.run, self.app.registry
        reporter = ProgressReporter(
            self.caller.progress,
            step_total=run.step_total,
            interval=self.app.settings.progress_interval_seconds,
            start=run.progress_floor,
        )
        if run.said:
            await reporter.note(run.said)
        known = await store.get_run(run.profile, run.run_id)
        if known is not None:
            run.recalled(known.status, known.usage)
        try:
            if known is not None and known.status is RunStatus.PAUSED and await still_paused(self.backend, run.run_id):
                run.paused()
                return self.report()
            await recover_claims(self.app, run.profile, run_id=run.run_id)  # a gate a stopped runbridge was answering
            for record in await self._still_open(await store.gates(run.profile, run_id=run.run_id)):
                # A gate seen by an earlier call is still open: put it to the human before following on.
                run.waits()
                outcome = await self.gates.ask(record.gate, reporter)
                if outcome is not None:
                    return outcome
            return await self._follow_stream(reporter) or self.report()
        finally:
            with anyio.CancelScope(shield=True):  # a call cancelled mid-watch still keeps what it saw, and where
                await self._keep_seen()
                await store.update_run(
                    run.profile,
                    run.run_id,
                    status=run.status,
                    cursor=run.cursor,
                    error=run.error,
                    usage=run.usage,
                    outputs=run.outputs,
                )

    async def answer(self, gate: Gate, action: str, content: dict[str, Any] | None) -> Outcome:
        """A human's answer that arrived with the call (a 2026-era retry): acted on before following goes on."""
        return await self.gates.apply(gate, action, content, None)

    def ask_again(self, gate: Gate, why: str) -> InputRequiredResult:
        return self.gates.ask_again(gate, why)

    async def _follow_stream(self, reporter: ProgressReporter) -> Outcome:
        run = self.run
        heartbeat = self.app.settings.heartbeat_seconds
        deadline = monotonic() + run.wait
        last_activity = monotonic()
        failure: RunbridgeError | None = None
        seen_before = run.events
        async with anyio.create_task_group() as tg:
            send, receive = anyio.create_memory_object_stream[RunEvent | Exception](_BUFFER)
            tg.start_soon(_pump, watch_run(self.app, run.profile, self.backend, run.run_id, run.cursor), send)
            self._receive = receive
            try:
                async with receive:
                    while (now := monotonic()) < deadline:
                        timeout = min(deadline, last_activity + heartbeat) - now
                        due = reporter.flush_due_in()
                        try:
                            if self._ahead:
                                item = self._ahead.popleft()
                            else:
                                item = await _next(receive, timeout if due is None else min(timeout, due))
                        except anyio.EndOfStream:
                            await self._recover("the event stream ended without a final event")
                            break
                        now = monotonic()
                        if item is None:
                            if reporter.pending:
                                await reporter.flush()
                            elif now - last_activity >= heartbeat:
                                await reporter.heartbeat(now - last_activity)
                                last_activity = now
                            continue
                        if isinstance(item, CursorError):
                            raise item  # the caller's cursor is wrong: say so, do not report a lost stream
                        if isinstance(item, UnreachableError) and run.events == seen_before:
                            raise self._unreachable(item)  # the backend is off: say so now, as a plain request would
                        if isinstance(item, NotFoundError) and run.events == seen_before:
                            raise item  # the backend has no such run (any more): say so, not "still running"
                        if isinstance(item, Exception):
                            await self._recover(str(item))
                            break
                        last_activity = now
                        answered_before = run.decision
                        outcome = await self._on_event(item, reporter)
                        if outcome is not None:
                            return outcome
                        if not self._ahead and receive.statistics().current_buffer_used == 0:
                            await self._keep_seen()  # once per batch of events the stream delivered together
                        if run.decision != answered_before:
                            deadline = monotonic() + run.wait  # a human answered: follow afresh from here
                    if reporter.pending:
                        await reporter.flush()
                    if run.events == seen_before and run.wait >= _QUIET_PROBE_SECONDS:
                        await self._check_reachable()
            except RunbridgeError as exc:
                failure = exc  # raised below, outside the task group, so it reaches the tool as itself
            finally:
                self._receive = None
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return None

    def _unreachable(self, exc: RunbridgeError) -> TransportError:
        """The backend does not answer and nothing arrived: an error that says the run's place is kept."""
        return TransportError(
            sentences(
                f"No event arrived while following run {self.run.run_id!r}, and the backend does not answer: {exc}",
                "Nothing is lost: runbridge kept where it got to, so call runs_watch again once the backend is back",
            )
        )

    async def _check_reachable(self) -> None:
        """Nothing arrived during the whole wait: a quiet run, or a backend that does not answer while the stream
        keeps reconnecting. Only the second is an error, so that a handle never says "still running" about a run
        nobody can see."""
        try:
            await self.backend.get_run(self.run.run_id)
        except (TransportError, UnavailableError) as exc:
            raise self._unreachable(exc) from None
        except RunbridgeError:
            return  # it answered: the run is merely quiet

    async def _recover(self, problem: str) -> None:
        """The stream stopped before the run's end: ask the backend where the run is, and say how it is known."""
        run, store = self.run, self.app.registry
        try:
            found = await self.backend.get_run(run.run_id)
        except RunbridgeError:
            found = None
        problem = problem.rstrip(".")
        if found is not None and found.status.terminal:
            await store.close_gates(run.profile, run.run_id)
            run.ended_as_read(
                found,
                f"The event stream stopped ({problem}); the run's end was read from its status. runs_events lists "
                "its events from the cursor on.",
            )
        elif found is not None and found.status is RunStatus.PAUSED:
            run.paused(from_status=True)
        elif (
            found is not None
            and found.status is RunStatus.UNKNOWN
            and (known := await self._recorded_end()) is not None
        ):
            # The backend cannot say (Synapse v1 has no run status), but runbridge saw the run end: that stands.
            run.ended_as_recorded(
                known.status,
                known.outputs,
                known.error,
                "The run's end as runbridge saw it; the backend can neither replay its events nor report its status.",
            )
        elif found is not None and found.status is RunStatus.UNKNOWN:
            note = f"{problem}. The backend cannot report this run's status either, so its state is unknown here."
            run.lost(note, unknown=True)
        else:
            run.lost(f"Lost the event stream ({problem}). Call runs_watch to pick up from the cursor.")

    async def _still_open(self, stored: list[GateRecord]) -> list[GateRecord]:
        """The gates an earlier call saw open that the run still waits on. One the backend's own word shows the run
        went past (its status is no longer `waiting`: the gate was answered in the backend's own interface, or the
        run ended) is closed in the store, decision unknown, and nobody is asked it again; the stream then tells
        how the run went on. A gate being answered right now (`answering`) is not in `stored`: it is left alone."""
        if not stored:
            return stored
        try:
            found = await self.backend.get_run(self.run.run_id)
        except RunbridgeError:
            return stored  # the backend cannot say: the stream decides
        if found.status in (RunStatus.WAITING, RunStatus.PAUSED, RunStatus.UNKNOWN):
            return stored
        await self.app.registry.close_gates(self.run.profile, self.run.run_id)  # only those still `open`
        return []

    async def _decided_elsewhere(self, event: RunEvent) -> None:
        """A gate the stream says is resolved (`event.gate_id`) while runbridge still lists it open was decided
        elsewhere (in the backend's own UI, or by another client of it): it is no longer listed. A gate runbridge
        is answering is `answering`, not `open`, and is settled by its answer."""
        if event.gate_id is None:
            return
        known = await self.app.registry.get_gate(self.run.profile, event.gate_id)
        if known is not None and known.state == "open":
            await self.app.registry.finish_gate(self.run.profile, event.gate_id, "closed")

    async def _recorded_end(self) -> RunRecord | None:
        known = await self.app.registry.get_run(self.run.profile, self.run.run_id)
        return known if known is not None and known.status.terminal else None

    async def _keep_seen(self) -> None:
        """Store the events this call read since it last did with the run, so that runs_events and the next
        runbridge process have them (Synapse v1 cannot replay them)."""
        if self.run.unsaved:
            await self.app.registry.append_events(self.run.profile, self.run.run_id, self.run.take_unsaved())

    async def _on_event(self, event: RunEvent, reporter: ProgressReporter) -> Outcome:
        run = self.run
        run.saw(event)
        kind = event.kind
        if kind is EventKind.GATE_OPENED and event.gate is not None and await self.gates.settled(event.gate):
            return None  # the same gate announced again (a replay, or a second event type): already settled
        await reporter.on_event(event)
        if kind.terminal:
            run.ended_with(event)
            await self.app.registry.close_gates(run.profile, run.run_id)
            return self.report()
        if kind is EventKind.GATE_RESOLVED:
            await self._decided_elsewhere(event)
            run.running()
            return None
        if kind is EventKind.GATE_OPENED and event.gate is not None:
            if not await self._still_waiting_on(event.gate):
                return None  # history: the run went past this gate before we saw it (a fork's copied events)
            run.waits()
            gate = event.gate.model_copy(update={"profile": run.profile})
            await self.app.registry.record_gate(run.profile, gate)
            await self._keep_seen()  # before asking: the person may take long
            return await self.gates.ask(gate, reporter)
        if kind in (EventKind.RUN_STARTED, EventKind.STEP_STARTED, EventKind.RUN_RESUMED):
            run.running()
        elif (
            kind is EventKind.RUN_PAUSED
            and not went_on(self._read_ahead())
            and await still_paused(self.backend, run.run_id)  # not a replay of a pause long since lifted
        ):
            # Nothing more comes until an operator resumes it: say so now rather than wait out the time in silence.
            run.paused()
            if reporter.pending:
                await reporter.flush()
            return self.report()
        return None

    def _read_ahead(self) -> deque[RunEvent | Exception]:
        """Move what the stream already delivered into `_ahead` (returned), to look at it before acting on the
        current event."""
        if self._receive is not None:
            while True:
                try:
                    self._ahead.append(self._receive.receive_nowait())
                except (anyio.WouldBlock, anyio.EndOfStream):
                    break
        return self._ahead

    async def _still_waiting_on(self, gate: Gate) -> bool:
        """False when the run has visibly moved past `gate`: the events already received resolve it or end the
        run, or the run's snapshot shows it ended. A human is never asked about history.

        The snapshot is awaited for `_GATE_CHECK_SECONDS` at most: where reading a run's status is slow (a backend
        without a status endpoint replays the stream), the events the stream delivered meanwhile decide alone."""
        found = None
        with anyio.move_on_after(_GATE_CHECK_SECONDS):
            try:
                found = await self.backend.get_run(self.run.run_id)  # also gives the stream time to deliver the rest
            except RunbridgeError:
                found = None
        step = gate.step.id if gate.step else None
        for item in self._read_ahead():
            if isinstance(item, RunEvent) and (
                item.kind.terminal
                or (item.kind is EventKind.GATE_RESOLVED and step and item.step and item.step.id == step)
            ):
                return False
        return found is None or not found.status.terminal
