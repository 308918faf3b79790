"""Synapse event streams (docs/backends/orchestrations.md): v1 POST streams that stop at a gate, and v2 re-attachable
streams.

v1: `data: <json>` lines only (no `event:`, no `id:`), JSON written with Python's default separators, `: ping`
after a quiet spell, and `data: {"type": "done"}` always last: after the end, right after `human_input_required`
(the stream stops there), and after an error. v2: `id: <epoch ms>-<n>` before every `data:`, `: keepalive` while
quiet, open across a gate (a `paused` marker, then more events once the run is resumed), `done` when the run is
over; a reconnect past the end gets `stream_complete`.

The run's stream faults apply to every connection (the run stream, each resume stream, each v2 connection): drop
after N frames, slow frames, a malformed or oversized frame, or only pings before a given wire index.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import anyio

from ..faults import StreamFaultState
from ..runs import RunRecord
from ..sse import DROP, Drop
from .state import OrchestrationsState

__all__ = ["DONE", "data_frame", "end_again", "not_found_stream", "v1_stream", "v2_stream"]

DONE: dict[str, Any] = {"type": "done"}
PING = b": ping\n\n"
KEEPALIVE = b": keepalive\n\n"


def data_frame(body: dict[str, Any], frame_id: str | None = None) -> bytes:
    head = f"id: {frame_id}\n" if frame_id is not None else ""
    return f"{head}data: {json.dumps(body)}\n\n".encode()


async def _faulted(faults: StreamFaultState, index: int, quiet_frame: bytes) -> AsyncGenerator[bytes, None]:
    """What the faults put before the frame at wire index `index`: pings only, a pause, a broken or huge frame."""
    quiet = faults.quiet(index)
    while quiet > 0:
        step = min(quiet, 0.05)
        await anyio.sleep(step)
        quiet -= step
        yield quiet_frame
    if faults.faults.slow_frame_seconds > 0:
        await anyio.sleep(faults.faults.slow_frame_seconds)
    if faults.malformed(index):
        yield b'data: {"type": "step_start", "orch_step_id": \n\n'
    size = faults.oversized(index)
    if size is not None:
        yield data_frame({"type": "sandbox_padding", "padding": "x" * size})


async def v1_stream(
    state: OrchestrationsState, wire_id: str, run: RunRecord, start: int, faults: StreamFaultState
) -> AsyncGenerator[bytes | Drop, None]:
    """The wire events from `start` up to the next stop, then `done`."""
    drop_after = faults.next_drop()
    if drop_after == 0:
        yield DROP
        return
    sent = 0
    index = start
    while True:
        wire = state.wire(wire_id, run)
        while index < len(wire.events):
            event = wire.events[index]
            index += 1
            if event.v2_only:
                continue
            async for chunk in _faulted(faults, event.index, PING):
                yield chunk
            state.ctx.stats.emitted(wire_id, event.index, str(event.body["type"]))
            yield data_frame(event.body)
            sent += 1
            if drop_after is not None and sent >= drop_after:
                yield DROP
                return
            if event.stop:
                yield data_frame(DONE)
                return
        if run.finished and wire.consumed == len(run.events):
            yield data_frame(DONE)  # nothing more will come (a resume of a run that was not waiting)
            return
        if not await state.idle(run, wire.consumed, state.ping_seconds):
            yield PING


async def end_again(state: OrchestrationsState, wire_id: str, run: RunRecord) -> AsyncGenerator[bytes | Drop, None]:
    """A resume stream of a run that is over: its ending again (the server does not check), then `done`."""
    wire = state.wire(wire_id, run)
    for event in wire.events[wire.end_at or len(wire.events) :]:
        if not event.v2_only:
            yield data_frame(event.body)
    yield data_frame(DONE)


async def not_found_stream(wire_id: str) -> AsyncGenerator[bytes | Drop, None]:
    """A resume stream for an unknown run: HTTP 200 already, so the refusal is an event."""
    yield data_frame({"type": "orchestration_error", "error": "Run not found"})
    yield data_frame(DONE)


async def v2_stream(
    state: OrchestrationsState, wire_id: str, run: RunRecord, after: int, faults: StreamFaultState
) -> AsyncGenerator[bytes | Drop, None]:
    """Every wire event after index `after`, with ids, until `done`; `stream_complete` when nothing is left."""
    wire = state.wire(wire_id, run)
    if wire.ended and after >= len(wire.events) - 1:
        yield data_frame({"type": "stream_complete"})
        return
    drop_after = faults.next_drop()
    if drop_after == 0:
        yield DROP
        return
    sent = 0
    index = after + 1
    while True:
        wire = state.wire(wire_id, run)
        while index < len(wire.events):
            event = wire.events[index]
            index += 1
            async for chunk in _faulted(faults, event.index, KEEPALIVE):
                yield chunk
            state.ctx.stats.emitted(wire_id, event.index, str(event.body["type"]))
            yield data_frame(event.body, f"{wire.epoch_ms}-{event.index}")
            sent += 1
            if event.body["type"] == "done":
                return
            if drop_after is not None and sent >= drop_after:
                yield DROP
                return
        if not await state.idle(run, wire.consumed, state.keepalive_seconds):
            yield KEEPALIVE
