"""`GET /runs/{run_id}/events`: the run's events as orchagent frames, replayed from the start on every connection.

Wire format (docs/backends/orchagent.md): each event is exactly `data: <one JSON object>` and a blank line; nothing else
but `: keepalive` comments while nothing happens. No `id:`, no `event:`, no `Last-Event-ID`: a reconnecting client
gets everything again and must skip what it has. The stream stays open while the run waits on `auth.required` or
`approval.required` and goes on after `POST /runs/{id}/resume`; after `run.completed` or `error` it closes (or,
in the `held-open` variant, only sends keep-alives). The run's stream faults (drop after N frames, slow, malformed,
oversized, quiet) apply, counted in frames of this projection (0-based).

Engine events become orchagent events as follows: `run.started`, `step.started`, `step.completed`, `step.failed`,
`tool.called`, `tool.result`, `usage` and `log` keep their names (with `message` and `details`); an `auth` gate is
`auth.required` (`details.instruction`, `details.redirect_url`); a `tool_approval` gate is `approval.required`
(`details: {server, tool, args}`); the answer to a gate is `run.resumed`; `run.completed` carries the assistant's
answer in `details.output`; a failed or cancelled run ends with `error`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..events import EngineEvent
from ..faults import StreamFaultState
from ..runs import RunRecord
from ..sse import DROP, Drop, EventStreamResponse
from .state import OrchagentState, RunInfo

__all__ = ["KEEPALIVE", "StreamRoutes", "frame"]

KEEPALIVE = b": keepalive\n\n"


def frame(doc: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(doc, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


def _step(event: EngineEvent) -> dict[str, Any]:
    if event.step_id is None:
        return {}
    return {
        "step": event.step_name,
        "step_id": event.step_id,
        "step_index": event.step_index,
        "step_total": event.step_total,
    }


class StreamRoutes:
    """The events handler, bound to one app's state."""

    def __init__(self, state: OrchagentState) -> None:
        self.s = state

    async def events(self, request: Request) -> Response:
        info = self.s.runs.get(request.path_params["run_id"])
        if info is None or info.owner != request.state.user:
            return JSONResponse({"detail": "Run not found"}, status_code=404)
        run = self.s.engine.get_run(info.run_id)
        faults = self.s.ctx.faults.stream_state(run.id, run.options)
        stats = self.s.ctx.stats
        stats.incr("stream_connections")
        base_url = str(request.base_url).rstrip("/")
        return EventStreamResponse(
            self._frames(run, info, base_url, faults),
            closing=self.s.ctx.closing,
            on_drop=lambda: stats.incr("stream_drops"),
        )

    async def _frames(
        self, run: RunRecord, info: RunInfo, base_url: str, faults: StreamFaultState
    ) -> AsyncGenerator[bytes | Drop, None]:
        drop_after = faults.next_drop()
        if drop_after == 0:
            yield DROP
            return
        slow = faults.faults.slow_frame_seconds
        keepalive = self.s.keepalive_seconds
        sent = position = index = 0
        while True:
            while index < len(run.events):
                event = run.events[index]
                index += 1
                doc = self.project(run, info, event, base_url)
                if doc is None:
                    continue
                sequence, position = position, position + 1
                quiet = faults.quiet(sequence)
                while quiet > 0:
                    await anyio.sleep(min(keepalive, quiet))
                    quiet -= keepalive
                    yield KEEPALIVE
                if slow > 0:
                    await anyio.sleep(slow)
                if faults.malformed(sequence):
                    yield b'data: {"type":"broken","message":\n\n'
                size = faults.oversized(sequence)
                if size is not None:
                    yield frame({"type": "sandbox.padding", "padding": "x" * size})
                self.s.ctx.stats.emitted(run.id, sequence + 1, str(doc["type"]))  # 1-based, as clients count
                yield frame(doc)
                sent += 1
                if event.terminal:
                    if not self.s.variant.close_after_end:
                        while True:  # a server that never closes: the client must stop by itself
                            await anyio.sleep(keepalive)
                            yield KEEPALIVE
                    return
                if drop_after is not None and sent >= drop_after:
                    yield DROP
                    return
            with anyio.move_on_after(keepalive) as waited:
                await run.wait_beyond(index)
            if waited.cancelled_caught:
                yield KEEPALIVE

    # -- projection ----------------------------------------------------------------------------------------------

    def project(self, run: RunRecord, info: RunInfo, event: EngineEvent, base_url: str) -> dict[str, Any] | None:
        """The orchagent event for one engine event; None for one this server does not show."""
        p = dict(event.payload)
        step = _step(event)
        name = event.step_name or ""
        doc: dict[str, Any]
        match event.type:
            case "run.started":
                details: dict[str, Any] = {"thread_id": info.thread_id, "workflow": run.workflow.id}
                if self.s.variant.echo_secrets:
                    details["secrets"] = info.secrets
                doc = {"type": "run.started", "message": "Run started", "details": details}
            case "step.started":
                doc = {"type": "step.started", "message": f"{name} started", "details": step}
            case "step.completed":
                doc = {"type": "step.completed", "message": f"{name} done", "details": step}
            case "step.failed":
                doc = {"type": "step.failed", "message": p.get("error", {}).get("message", ""), "details": step}
            case "tool.called":
                details = {**step, "tool": p.get("tool"), "args": p.get("args")}
                doc = {"type": "tool.called", "message": f"Calling {p.get('tool')}", "details": details}
            case "tool.result":
                details = {**step, "tool": p.get("tool"), "result": p.get("result")}
                doc = {"type": "tool.result", "message": f"{p.get('tool')} returned", "details": details}
            case "usage":
                doc = {"type": "usage", "message": f"{p.get('total_tokens')} tokens", "details": {**step, **p}}
            case "gate.opened":
                gate_doc = self._gate(run, event, p, base_url)
                if gate_doc is None:
                    return None
                doc = gate_doc
            case "gate.resolved":
                if (run.id, str(p.get("interrupt_id"))) in self.s.auto_passed:
                    return None
                doc = {"type": "run.resumed", "message": "Resumed", "details": step}
            case "run.completed":
                doc = {"type": "run.completed", "message": "Done", "details": {"output": self.s.reply_of(info, run)}}
            case "run.failed":
                error = p.get("error") or {}
                doc = {"type": "error", "message": error.get("message", "The run failed."), "details": error}
            case "run.cancelled":
                doc = {"type": "error", "message": "The run was cancelled.", "details": {"code": "cancelled"}}
            case _:
                doc = {"type": "log", "message": str(p.get("message", "")), "details": step}
        doc["timestamp"] = event.timestamp
        return doc

    def _gate(self, run: RunRecord, event: EngineEvent, p: dict[str, Any], base_url: str) -> dict[str, Any] | None:
        interrupt = str(p.get("interrupt_id"))
        if p.get("kind") == "auth":
            query = urlencode({"provider": p.get("title") or "", "run_id": run.id, "state": interrupt})
            fields = {"instruction": p.get("description") or "", "redirect_url": f"{base_url}/oauth/authorize?{query}"}
            doc: dict[str, Any] = {"type": "auth.required", "message": p.get("prompt") or "Authorization required"}
            if self.s.variant.gate_fields == "top":
                doc.update(fields)
                doc["details"] = {"provider": p.get("title")}
            else:
                doc["details"] = {"provider": p.get("title"), **fields}
            return doc
        artifact = p.get("artifact") or {}
        server, tool = str(artifact.get("server") or "mcp"), str(artifact.get("tool") or event.step_id)
        key = (run.id, interrupt)
        if key in self.s.auto_passed:
            return None
        if key not in self.s.shown:
            gate = run.gate
            if gate is not None and gate.interrupt_id == interrupt and self.s.approved(run.id, server, tool):
                # Pre-approved for this run: the server does not ask, and no replay will show it either.
                self.s.engine.answer_gate(run.id, str(event.step_id), {"action": "approve"})
                self.s.auto_passed.add(key)
                return None
            self.s.shown.add(key)
        details = {"server": server, "tool": tool, "args": artifact.get("args") or {}}
        return {"type": "approval.required", "message": p.get("prompt") or f"Approve {tool}?", "details": details}
