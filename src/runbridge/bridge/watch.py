"""The hybrid wait: follow a run for a bounded time, as progress, through its gates, then report.

A run tool follows the backend's event stream for up to `wait` seconds. Every event becomes progress; a gate is
put to the human the way the client allows (see `caller.py`); the terminal event ends the call with the result.
If the run is still going when the time is up, the call returns a durable handle (`runs_watch` continues from
the cursor, so no event is lost or repeated). Cancelling the tool call stops the watching only: the backend run
is never cancelled here.
"""

from __future__ import annotations

from collections import deque
from contextlib import aclosing
from time import monotonic  # the loop's deadlines reach anyio only as durations; anyio's clock costs more per call
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp_types import InputRequiredResult

from ..core.errors import CursorError, RunbridgeError, TransportError, UnavailableError, UnreachableError, sentences
from ..core.models import EventKind, Gate, RunEvent, RunStatus
from ..state import RunRecord
from .asking import answered_note, apply_answer, on_gate, settled
from .following import Follow, report
from .paused import PAUSED_NOTE, still_paused, went_on
from .progress import ProgressReporter
from .results import RunReport

__all__ = ["Follow", "answered_note", "apply_answer", "follow_run"]

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


async def follow_run(f: Follow) -> RunReport | InputRequiredResult:
    """Follow until the run ends, a gate needs a human who cannot be asked now, or `f.wait` runs out."""
    settings = f.app.settings
    reporter = ProgressReporter(
        f.caller.progress, step_total=f.step_total, interval=settings.progress_interval_seconds, start=f.progress_floor
    )
    if f.said:
        await reporter.note(f.said)
    known = await f.app.registry.get_run(f.profile, f.run_id)
    if known is not None and known.usage is not None:
        f.usage = known.usage
    if known is not None and known.status.terminal:
        f.status = known.status  # an ended run stays ended, whatever this call manages to read
    try:
        if known is not None and known.status is RunStatus.PAUSED and await still_paused(f.backend, f.run_id):
            f.status, f.note = RunStatus.PAUSED, PAUSED_NOTE
            return report(f)
        for record in await f.app.registry.gates(f.profile, run_id=f.run_id):
            # A gate seen by an earlier call is still open: put it to the human before following on.
            f.status = RunStatus.WAITING
            outcome = await on_gate(f, record.gate, reporter)
            if outcome is not None:
                return outcome
        return await _follow_stream(f, reporter) or report(f)
    finally:
        await f.app.registry.update_run(
            f.profile, f.run_id, status=f.status, cursor=f.cursor, error=f.error, usage=f.usage, outputs=f.outputs
        )


async def _follow_stream(f: Follow, reporter: ProgressReporter) -> RunReport | InputRequiredResult | None:
    heartbeat = f.app.settings.heartbeat_seconds
    deadline = monotonic() + f.wait
    last_activity = monotonic()
    failure: RunbridgeError | None = None
    seen_before = f.events
    async with anyio.create_task_group() as tg:
        send, receive = anyio.create_memory_object_stream[RunEvent | Exception](_BUFFER)
        tg.start_soon(_pump, f.backend.watch(f.run_id, cursor=f.cursor), send)
        f._receive = receive
        try:
            async with receive:
                while (now := monotonic()) < deadline:
                    timeout = min(deadline, last_activity + heartbeat) - now
                    due = reporter.flush_due_in()
                    try:
                        if f._ahead:
                            item = f._ahead.popleft()
                        else:
                            item = await _next(receive, timeout if due is None else min(timeout, due))
                    except anyio.EndOfStream:
                        await _recover(f, "the event stream ended without a final event")
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
                    if isinstance(item, UnreachableError) and f.events == seen_before:
                        raise _unreachable(f, item)  # the backend is off: say so now, as a plain request would
                    if isinstance(item, Exception):
                        await _recover(f, str(item))
                        break
                    last_activity = now
                    answered_before = f.decision
                    outcome = await _on_event(f, item, reporter)
                    if outcome is not None:
                        return outcome
                    if f.decision != answered_before:
                        deadline = monotonic() + f.wait  # a human answered: follow afresh from here
                if reporter.pending:
                    await reporter.flush()
                if f.events == seen_before and f.wait >= _QUIET_PROBE_SECONDS:
                    await _check_reachable(f)
        except RunbridgeError as exc:
            failure = exc  # raised below, outside the task group, so it reaches the tool as itself
        finally:
            f._receive = None
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return None


def _unreachable(f: Follow, exc: RunbridgeError) -> TransportError:
    """The backend does not answer and nothing arrived: an error that says the run's place is kept."""
    return TransportError(
        sentences(
            f"No event arrived while following run {f.run_id!r}, and the backend does not answer: {exc}",
            "Nothing is lost: runbridge kept where it got to, so call runs_watch again once the backend is back",
        )
    )


async def _check_reachable(f: Follow) -> None:
    """Nothing arrived during the whole wait: a quiet run, or a backend that does not answer while the stream keeps
    reconnecting. Only the second is an error, so that a handle never says "still running" about a run nobody can
    see."""
    try:
        await f.backend.get_run(f.run_id)
    except (TransportError, UnavailableError) as exc:
        raise _unreachable(f, exc) from None
    except RunbridgeError:
        return  # it answered: the run is merely quiet


async def _recover(f: Follow, problem: str) -> None:
    """The stream stopped before the run's end: ask the backend where the run is, and say how it is known."""
    try:
        run = await f.backend.get_run(f.run_id)
    except RunbridgeError:
        run = None
    problem = problem.rstrip(".")
    if run is not None and run.status.terminal:
        f.status, f.source, f.outputs, f.error = run.status, "status", run.outputs, run.error
        f.usage = run.usage or f.usage
        await f.app.registry.close_gates(f.profile, f.run_id)
        f.note = (
            f"The event stream stopped ({problem}); the run's end was read from its status. runs_events lists its "
            "events from the cursor on."
        )
    elif run is not None and run.status is RunStatus.PAUSED:
        f.status, f.source, f.note = RunStatus.PAUSED, "status", PAUSED_NOTE
    elif run is not None and run.status is RunStatus.UNKNOWN and (known := await _recorded_end(f)) is not None:
        # The backend cannot say (Synapse v1 has no run status), but runbridge saw the run end: that stands.
        f.status, f.outputs, f.error = known.status, known.outputs, known.error
        f.note = "The run's end as runbridge saw it; the backend can neither replay its events nor report its status."
    elif run is not None and run.status is RunStatus.UNKNOWN:
        f.status, f.source = RunStatus.UNKNOWN, "lost"
        f.note = f"{problem}. The backend cannot report this run's status either, so its state is unknown here."
    else:
        f.note = f"Lost the event stream ({problem}). Call runs_watch to pick up from the cursor."


async def _recorded_end(f: Follow) -> RunRecord | None:
    return known if (known := await f.app.registry.get_run(f.profile, f.run_id)) and known.status.terminal else None


async def _on_event(f: Follow, event: RunEvent, reporter: ProgressReporter) -> RunReport | InputRequiredResult | None:
    f.events += 1
    if event.seq:
        f.cursor = event.seq
    if event.usage is not None:
        f.usage = event.usage if f.usage is None else f.usage + event.usage
    kind = event.kind
    if kind is EventKind.GATE_OPENED and event.gate is not None and await settled(f, event.gate):
        return None  # the same gate announced again (a replay, or a second event type): already settled
    await reporter.on_event(event)
    if kind.terminal:
        f.status = kind.terminal_status or RunStatus.UNKNOWN
        if event.from_status:
            f.source = "status"
        data = event.data
        if kind is EventKind.RUN_COMPLETED:
            f.outputs = data.get("outputs", data.get("output"))
        else:
            err = data.get("error")
            f.error = (err.get("message") if isinstance(err, dict) else err) or event.text
            f.error_code = err.get("code") if isinstance(err, dict) else None
        await f.app.registry.close_gates(f.profile, f.run_id)
        return report(f)
    if kind is EventKind.GATE_RESOLVED:
        f.status = RunStatus.RUNNING
        return None
    if kind is EventKind.GATE_OPENED and event.gate is not None:
        if not await _still_waiting_on(f, event.gate):
            return None  # history: the run went past this gate before we saw it (a fork's copied events)
        f.status = RunStatus.WAITING
        gate = event.gate.model_copy(update={"profile": f.profile})
        await f.app.registry.record_gate(f.profile, gate)
        return await on_gate(f, gate, reporter)
    if kind in (EventKind.RUN_STARTED, EventKind.STEP_STARTED, EventKind.RUN_RESUMED):
        f.status = RunStatus.RUNNING
    elif (
        kind is EventKind.RUN_PAUSED
        and not went_on(_read_ahead(f))
        and await still_paused(f.backend, f.run_id)  # not a replay of a pause long since lifted
    ):
        # Nothing more comes until an operator resumes it: say so now rather than wait out the time in silence.
        f.status, f.note = RunStatus.PAUSED, PAUSED_NOTE
        if reporter.pending:
            await reporter.flush()
        return report(f)
    return None


def _read_ahead(f: Follow) -> deque[RunEvent | Exception]:
    """Move what the stream already delivered into `f._ahead` (returned), to look at it before acting on the
    current event."""
    if f._receive is not None:
        while True:
            try:
                f._ahead.append(f._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
    return f._ahead


async def _still_waiting_on(f: Follow, gate: Gate) -> bool:
    """False when the run has visibly moved past `gate`: the events already received resolve it or end the run,
    or the run's snapshot shows it ended. A human is never asked about history.

    The snapshot is awaited for `_GATE_CHECK_SECONDS` at most: where reading a run's status is slow (a backend
    without a status endpoint replays the stream), the events the stream delivered meanwhile decide alone."""
    run = None
    with anyio.move_on_after(_GATE_CHECK_SECONDS):
        try:
            run = await f.backend.get_run(f.run_id)  # also gives the stream time to deliver what follows the gate
        except RunbridgeError:
            run = None
    _read_ahead(f)
    step = gate.step.id if gate.step else None
    for item in f._ahead:
        if isinstance(item, RunEvent) and (
            item.kind.terminal or (item.kind is EventKind.GATE_RESOLVED and step and item.step and item.step.id == step)
        ):
            return False
    return run is None or not run.status.terminal
