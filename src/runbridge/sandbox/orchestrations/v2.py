"""The scale-mode v2 routes (docs/backends/orchestrations.md): queued runs, status, re-attachable events, resume and
cancel.

Served only when the settings say `v2`; otherwise every `/api/v2` path answers 503, as a server without scale mode
does. Unlike v1, a v2 resume checks the run: 409 once it is over (or when it waits on no gate).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import EngineError, GateValidationError, RunNotFound, RunTerminal, WorkflowNotFound
from ..sse import EventStreamResponse
from .errors import Invalid, detail
from .state import OrchestrationsState
from .streams import v2_stream
from .v1 import definition, normalise_response, resume_body, start_body

__all__ = ["V2Routes"]

_BASE = "/api/v2/orchestrations"


def _after(last_event_id: str | None) -> int:
    """The wire index a `Last-Event-ID` (`<ms>-<n>`, or `0` for the start) names; -1 before the first event."""
    if not last_event_id or last_event_id == "0":
        return -1
    _, _, n = last_event_id.partition("-")
    return int(n) if n.isdigit() else -1


class V2Routes:
    """Handlers bound to one app's state."""

    def __init__(self, state: OrchestrationsState) -> None:
        self.s = state

    def _off(self) -> Response | None:
        if self.s.settings.v2:
            return None
        return detail(
            503, "Scale mode is not enabled. Set redis_url in Settings > Scale to use V2 API."
        )  # 1.9.2 says so

    async def list(self, request: Request) -> Response:
        if (off := self._off()) is not None:
            return off
        items = [
            {"id": w.id, "name": w.name, "description": w.description, "updated_at": "2026-01-01T00:00:00Z"}
            for w in self.s.ctx.engine.workflows.values()
            if w.listed("orchestrations")
        ]
        return JSONResponse(items)

    async def get(self, request: Request) -> Response:
        if (off := self._off()) is not None:
            return off
        orch_id = request.path_params["orch_id"]
        try:
            workflow = self.s.ctx.engine.workflow(orch_id)
            return JSONResponse(definition(workflow, labels=self.s.settings.step_labels))
        except WorkflowNotFound:
            return detail(404, f"Orchestration '{orch_id}' not found")

    async def run(self, request: Request) -> Response:
        if (off := self._off()) is not None:
            return off
        orch_id = request.path_params["orch_id"]
        try:
            message, options = start_body(await request.body())
            wire_id, _ = self.s.start(orch_id, message, options)
        except Invalid as exc:
            return exc.response()
        except WorkflowNotFound:
            return detail(404, f"Orchestration '{orch_id}' not found")
        body = {
            "run_id": wire_id,
            "status": "queued",
            "stream_url": f"{_BASE}/runs/{wire_id}/stream",
            "status_url": f"{_BASE}/runs/{wire_id}/status",
        }
        return JSONResponse(body, status_code=202)

    async def status(self, request: Request) -> Response:
        if (off := self._off()) is not None:
            return off
        wire_id = request.path_params["run_id"]
        try:
            run = self.s.run(wire_id)
        except RunNotFound as exc:
            return detail(404, exc.message)
        return JSONResponse(self.s.projector.status(run, self.s.wire(wire_id, run)))

    async def stream(self, request: Request) -> Response:
        if (off := self._off()) is not None:
            return off
        wire_id = request.path_params["run_id"]
        try:
            run = self.s.run(wire_id)
        except RunNotFound as exc:
            return detail(404, exc.message)
        stats = self.s.ctx.stats
        stats.incr("stream_connections")
        faults = self.s.ctx.faults.stream_state(wire_id, run.options)
        after = _after(request.headers.get("last-event-id"))
        return EventStreamResponse(
            v2_stream(self.s, wire_id, run, after, faults),
            closing=self.s.ctx.closing,
            on_drop=lambda: stats.incr("stream_drops"),
        )

    async def events(self, request: Request) -> Response:
        if (off := self._off()) is not None:
            return off
        wire_id = request.path_params["run_id"]
        try:
            run = self.s.run(wire_id)
        except RunNotFound as exc:
            return detail(404, exc.message)
        wire = self.s.wire(wire_id, run)
        events = [{"id": f"{wire.epoch_ms}-{e.index}", **e.body} for e in wire.events]
        return JSONResponse({"run_id": wire_id, "count": len(events), "events": events})

    async def resume(self, request: Request) -> Response:
        if (off := self._off()) is not None:
            return off
        wire_id = request.path_params["run_id"]
        try:
            response = resume_body(await request.body())
            run = self.s.run(wire_id)
        except Invalid as exc:
            return exc.response()
        except RunNotFound as exc:
            return detail(404, exc.message)
        if run.finished:
            return detail(409, f"Run '{wire_id}' is already {run.status}")
        gate = run.gate
        if gate is None:
            return detail(409, f"Run '{wire_id}' is not waiting for human input")
        try:
            self.s.ctx.engine.answer_gate(run.id, gate.node_id, normalise_response(response, gate.spec))
        except GateValidationError as exc:
            return detail(422, exc.message)
        except EngineError as exc:
            return detail(409, exc.message)
        body = {"run_id": wire_id, "status": "resuming", "stream_url": f"{_BASE}/runs/{wire_id}/stream"}
        return JSONResponse(body, status_code=202)

    async def cancel(self, request: Request) -> Response:
        if (off := self._off()) is not None:
            return off
        wire_id = request.path_params["run_id"]
        try:
            run = self.s.run(wire_id)
            self.s.ctx.engine.cancel(run.id, "Cancelled through the API")
        except RunNotFound as exc:
            return detail(404, exc.message)
        except RunTerminal:
            return detail(409, f"Run '{wire_id}' already ended")
        return JSONResponse({"status": "cancellation_requested", "run_id": wire_id})
