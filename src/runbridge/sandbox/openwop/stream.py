"""The event stream (`GET /v1/runs/{id}/events`, SSE) and the poll (`GET .../events/poll`) (docs/backends/openwop.md).

Frames are `id: <sequence>` / `event: <type>` / `data: <RunEventDoc>`; `:keepalive` comments fill silences; the
stream closes right after `run.completed`, `run.failed` or `run.cancelled` and never before (it stays open while
a gate waits). `Last-Event-ID` resumes at the next sequence. Stream modes: `updates` (default) and `debug` (adds
`log.appended`, and `node.started` where the variant keeps it out of `updates`); `messages` may be mixed in and
is ignored; anything else is 400 `unsupported_stream_mode`. In a mixed mode the `event:` line names the mode.
The stream faults of the run (see `faults`) are applied here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import EngineError
from ..faults import StreamFaultState
from ..runs import RunRecord
from ..sse import DROP, Drop, EventStreamResponse
from .docs import WireDoc
from .envelope import engine_error, error
from .state import OpenWopState
from .versions import wire_version

__all__ = ["StreamRoutes"]

KEEPALIVE = b":keepalive\n\n"
_SUPPORTED = ("updates", "debug")
_BATCH = 256  # frames per write at most, when a backlog is ready


def _modes(raw: str | None) -> frozenset[str] | None:
    """The requested stream modes, or None when unsupported."""
    modes = frozenset(m.strip() for m in (raw or "updates").split(",") if m.strip()) or frozenset({"updates"})
    if not modes <= {"updates", "debug", "messages"} or not modes & set(_SUPPORTED):
        return None
    return modes


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


class StreamRoutes:
    """Handlers bound to one app's state."""

    def __init__(self, state: OpenWopState) -> None:
        self.s = state

    def _visible(self, doc: WireDoc, modes: frozenset[str]) -> bool:
        return "debug" in modes or not doc.debug_only

    async def events(self, request: Request) -> Response:
        try:
            run = self.s.ctx.engine.get_run(request.path_params["run_id"])
        except EngineError as exc:
            return engine_error(exc)
        if self.s.variant.require_accept and "text/event-stream" not in request.headers.get("accept", ""):
            return error(406, "not_acceptable", "This endpoint only serves text/event-stream.")
        modes = _modes(request.query_params.get("streamMode"))
        if modes is None:
            return error(400, "unsupported_stream_mode", "Unsupported streamMode.", {"supported": list(_SUPPORTED)})
        last = _int(request.headers.get("last-event-id"))
        start = 0 if last is None else max(last - self.s.variant.first_seq + 1, 0)
        faults = self.s.ctx.faults.stream_state(run.id, run.options)
        stats = self.s.ctx.stats
        stats.incr("stream_connections")
        return EventStreamResponse(
            self._frames(run, start, modes, faults, wire_version(request.scope)),
            closing=self.s.ctx.closing,
            on_drop=lambda: stats.incr("stream_drops"),
        )

    def _frame(self, run: RunRecord, doc: WireDoc, modes: frozenset[str], version: int) -> bytes:
        sequence = doc.sequence + self.s.variant.first_seq
        self.s.ctx.stats.emitted(run.id, sequence, doc.type)
        name = "debug" if doc.debug_only else "updates"
        rendered = self.s.projector.render(run.id, doc, version)
        if len(modes) == 1:
            name = rendered["type"]
        return f"id: {sequence}\nevent: {name}\ndata: {_dumps(rendered)}\n\n".encode()

    async def _frames(
        self, run: RunRecord, cursor: int, modes: frozenset[str], faults: StreamFaultState, version: int
    ) -> AsyncGenerator[bytes | Drop, None]:
        drop_after = faults.next_drop()
        slow = faults.faults.slow_frame_seconds
        keepalive = self.s.keepalive_seconds
        sent = 0
        if drop_after == 0:
            yield DROP
            return
        while True:
            log = self.s.projector.sync(run)
            batch: list[bytes] = []  # the frames ready now go out as one write; a fault first flushes them
            while cursor < len(log.docs):
                doc = log.docs[cursor]
                cursor += 1
                if not self._visible(doc, modes):
                    continue
                sequence = doc.sequence + self.s.variant.first_seq
                quiet, broken, size = faults.quiet(sequence), faults.malformed(sequence), faults.oversized(sequence)
                if batch and (quiet > 0 or slow > 0 or broken or size is not None):
                    yield b"".join(batch)
                    batch = []
                if quiet > 0:
                    async for chunk in self._quiet(quiet, keepalive):
                        yield chunk
                if slow > 0:
                    await anyio.sleep(slow)
                if broken:
                    yield f'event: {doc.type}\ndata: {{"eventId":"broken","type":"{doc.type}",\n\n'.encode()
                if size is not None:
                    yield self._oversized(size)
                batch.append(self._frame(run, doc, modes, version))
                sent += 1
                if len(batch) >= _BATCH:
                    yield b"".join(batch)
                    batch = []
                if doc.terminal:
                    yield b"".join(batch)
                    return
                if drop_after is not None and sent >= drop_after:
                    if batch:
                        yield b"".join(batch)
                    yield DROP
                    return
            if batch:
                yield b"".join(batch)
            if log.ended:
                return  # resumed at or past the terminal event: nothing more will come
            with anyio.move_on_after(keepalive) as waited:
                await run.wait_beyond(log.consumed)
            if waited.cancelled_caught:
                yield KEEPALIVE

    @staticmethod
    async def _quiet(seconds: float, keepalive: float) -> AsyncGenerator[bytes, None]:
        """Keep-alives only, for `seconds` (at least one)."""
        remaining = seconds
        while True:
            step = min(keepalive, remaining)
            await anyio.sleep(step)
            remaining -= step
            yield KEEPALIVE
            if remaining <= 0:
                return

    @staticmethod
    def _oversized(size: int) -> bytes:
        head, tail = '{"type":"sandbox.padding","padding":"', '"}'
        padding = "x" * max(size - len(head) - len(tail), 0)
        return f"event: log.appended\ndata: {head}{padding}{tail}\n\n".encode()

    async def _wait(self, run: RunRecord, count: int) -> None:
        """Until the run logs more than `count` events, or the server shuts down."""
        async with anyio.create_task_group() as tg:

            async def on_closing() -> None:
                await self.s.ctx.closing.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(on_closing)
            await run.wait_beyond(count)
            tg.cancel_scope.cancel()

    async def poll(self, request: Request) -> Response:
        params = request.query_params
        v2 = wire_version(request.scope) == 2
        cursor = "afterSequence" if v2 else "lastSequence"  # both exclusive (docs/backends/openwop.md)
        last = _int(params.get(cursor))
        try:
            timeout = float(params.get("timeout", "30"))
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= 60 or (cursor in params and last is None):
            return error(400, "validation_error", f"{cursor} must be an integer and timeout 0..60 seconds.")
        modes = _modes(params.get("streamMode"))
        if modes is None:
            return error(400, "unsupported_stream_mode", "Unsupported streamMode.", {"supported": list(_SUPPORTED)})
        try:
            run = self.s.ctx.engine.get_run(request.path_params["run_id"])
        except EngineError as exc:
            return engine_error(exc)
        after = -1 if last is None else last - self.s.variant.first_seq
        log = self.s.projector.sync(run)
        docs = [d for d in log.docs[max(after + 1, 0) :] if self._visible(d, modes)]
        if not docs and not log.ended:
            with anyio.move_on_after(timeout):
                await self._wait(run, log.consumed)
            log = self.s.projector.sync(run)
            docs = [d for d in log.docs[max(after + 1, 0) :] if self._visible(d, modes)]
        if self.s.variant.poll_drops_next and last is not None and docs:
            docs = docs[1:]  # a host that loses the event right after the cursor, on every page
        for doc in docs:
            self.s.ctx.stats.emitted(run.id, doc.sequence + self.s.variant.first_seq, doc.type)
        # The poll spells events `sequence`/`payload` on every reference host, even one whose stream says `seq`.
        events = [self.s.projector.render(run.id, d, 2 if v2 else 1, canonical=True) for d in docs]
        if not v2 and self.s.variant.poll_body == "run_status":
            # The SQLite host's page: the run's status, `isTerminal` (no `isComplete`), and `lastEventSeq`, the
            # page's last event or else the cursor it came with.
            first = self.s.variant.first_seq
            newest = docs[-1].sequence + first if docs else (last if last is not None else first - 1)
            body = {"runId": run.id, "events": events, "lastEventSeq": newest, "runStatus": run.status}
            return JSONResponse(body | {"isTerminal": log.ended})
        if not v2:
            return JSONResponse({"events": events, "isComplete": log.ended})
        # `lastSequence` is what the client sends back as `afterSequence`: the cursor it came with when nothing is
        # new, and before the first event when it came with none (the 2.x client reads it as an integer).
        first = self.s.variant.first_seq
        newest = docs[-1].sequence + first if docs else (last if last is not None else first - 1)
        return JSONResponse(
            {"runId": run.id, "events": events, "lastSequence": newest, "status": run.status, "isTerminal": log.ended}
        )
