"""The v1 orchestrations routes (docs/backends/orchestrations.md): list, describe, run and resume, each synchronous
or streamed.

Like the real server, a resume does not check the run's status: resuming a run that is not waiting at a gate
answers what the run is (a completed run answers `completed` again) and is counted as `resumes_without_gate`, so a
test can assert the bridge never does it. Unlike the real server, the sandbox checks an answer against the gate's
fields (a select outside its options, a missing field) and refuses it with 422, so that tests notice a bridge that
sends the wrong shape.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import EngineError, GateValidationError, RunNotFound, WorkflowNotFound
from ..faults import StreamFaults, StreamFaultState
from ..model import GateSpec, Workflow
from ..runs import RunRecord
from ..sse import Drop, EventStreamResponse
from .errors import Invalid, detail, read_body
from .project import step_type
from .state import OrchestrationsState
from .streams import end_again, not_found_stream, v1_stream

__all__ = ["V1Routes", "definition", "normalise_response"]


def definition(workflow: Workflow, *, labels: bool = True) -> dict[str, Any]:
    """`GET /orchestrations/{id}`: the steps with id, label (`""` without `labels`), type, agent and dependencies,
    and the edges."""
    steps: list[dict[str, Any]] = []
    for i, step in enumerate(workflow.steps):
        kind = step_type(step)
        steps.append(
            {
                "id": step.id,
                "label": step.name if labels else "",
                "type": kind,
                "agent_id": f"agent_{step.id.removeprefix('step-')}" if kind in ("agent", "tool") else None,
                "depends_on": [workflow.steps[i - 1].id] if i else [],
            }
        )
    edges = [{"source": a.id, "target": b.id} for a, b in zip(workflow.steps, workflow.steps[1:], strict=False)]
    return {
        "id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "steps": steps,
        "edges": edges,
    }


def normalise_response(response: Any, spec: GateSpec) -> Any:
    """A bare string is accepted (docs/backends/orchestrations.md): as the one field of a one-field form, else as
    `{"response": ...}`."""
    if isinstance(response, str):
        return {spec.fields[0].name: response} if len(spec.fields) == 1 else {"response": response}
    return response


def _options_in(message: str) -> Any:
    """`_sandbox` of a message that is a JSON object: how a client that sends only a message (a bridge turns a
    run's inputs into one) passes the run's sandbox knobs, as `inputs["_sandbox"]` does on the other wires."""
    if not message.startswith("{"):
        return None
    try:
        doc = json.loads(message)
    except ValueError:
        return None
    return cast(dict[str, Any], doc).get("_sandbox") if isinstance(doc, dict) else None


def start_body(raw: bytes) -> tuple[str, dict[str, Any] | None]:
    """`{"message": str}` (missing → ""), plus the sandbox's own `_sandbox` stream-fault knobs (in the body, or in
    a message that is a JSON object)."""
    body = read_body(raw)
    message = body.get("message", "")
    if not isinstance(message, str):
        raise Invalid(["body", "message"], "Input should be a valid string", "string_type")
    options = body.get("_sandbox", _options_in(message))
    if options is not None:
        if not isinstance(options, dict):
            raise Invalid(["body", "_sandbox"], "Input should be a valid dictionary", "dict_type")
        try:
            StreamFaults.from_dict(cast(dict[str, Any], options), ignore_unknown=True)
        except ValueError as exc:
            raise Invalid(["body", "_sandbox"], str(exc), "value_error") from None
    return message, cast(dict[str, Any] | None, options)


def resume_body(raw: bytes) -> Any:
    body = read_body(raw)
    if "response" not in body:
        raise Invalid(["body", "response"], "Field required", "missing")
    response = body["response"]
    if not isinstance(response, dict | str):
        raise Invalid(["body", "response"], "Input should be a valid dictionary or string", "union_type")
    return response


class V1Routes:
    """Handlers bound to one app's state."""

    def __init__(self, state: OrchestrationsState) -> None:
        self.s = state

    async def list(self, request: Request) -> Response:
        items = [
            {"id": w.id, "name": w.name, "description": w.description, "steps": len(w.steps)}
            for w in self.s.ctx.engine.workflows.values()
            if w.listed("orchestrations")
        ]
        return JSONResponse(items)

    async def get(self, request: Request) -> Response:
        orch_id = request.path_params["orch_id"]
        try:
            workflow = self.s.ctx.engine.workflow(orch_id)
            return JSONResponse(definition(workflow, labels=self.s.settings.step_labels))
        except WorkflowNotFound:
            return detail(404, f"Orchestration '{orch_id}' not found")

    async def _start(self, request: Request) -> tuple[str, RunRecord]:
        message, options = start_body(await request.body())
        return self.s.start(request.path_params["orch_id"], message, options)

    async def run(self, request: Request) -> Response:
        try:
            wire_id, run = await self._start(request)
        except Invalid as exc:
            return exc.response()
        except WorkflowNotFound:
            return detail(404, f"Orchestration '{request.path_params['orch_id']}' not found")
        wire = await self.s.until_stop(wire_id, run, 0)
        return JSONResponse(self.s.projector.result(wire))

    async def run_stream(self, request: Request) -> Response:
        try:
            wire_id, run = await self._start(request)
        except Invalid as exc:
            return exc.response()
        except WorkflowNotFound:
            return detail(404, f"Orchestration '{request.path_params['orch_id']}' not found")
        return self._stream(v1_stream(self.s, wire_id, run, 0, self._faults(wire_id, run)))

    def _faults(self, wire_id: str, run: RunRecord) -> StreamFaultState:
        self.s.ctx.stats.incr("stream_connections")
        return self.s.ctx.faults.stream_state(wire_id, run.options)

    def _stream(self, chunks: AsyncGenerator[bytes | Drop, None]) -> Response:
        stats = self.s.ctx.stats
        return EventStreamResponse(chunks, closing=self.s.ctx.closing, on_drop=lambda: stats.incr("stream_drops"))

    async def _resume(self, request: Request) -> tuple[str, RunRecord, int | None]:
        """Answer the run's open gate; the wire index its continuation starts at, or None when it was not waiting."""
        response = resume_body(await request.body())
        wire_id = request.path_params["run_id"]
        run = self.s.run(wire_id)
        wire = self.s.wire(wire_id, run)
        gate = run.gate
        if gate is None:
            self.s.ctx.stats.incr("resumes_without_gate")
            return wire_id, run, None
        start = len(wire.events)  # the answer and the human step's end add no wire events: it goes on from here
        self.s.ctx.engine.answer_gate(run.id, gate.node_id, normalise_response(response, gate.spec))
        return wire_id, run, start

    async def resume(self, request: Request) -> Response:
        try:
            wire_id, run, start = await self._resume(request)
        except Invalid as exc:
            return exc.response()
        except RunNotFound as exc:
            return detail(404, exc.message)
        except GateValidationError as exc:
            return detail(422, exc.message)
        except EngineError as exc:
            return detail(400, exc.message)
        wire = self.s.wire(wire_id, run)
        if start is not None or not run.finished:
            wire = await self.s.until_stop(wire_id, run, len(wire.events) if start is None else start)
        return JSONResponse(self.s.projector.result(wire))

    async def resume_stream(self, request: Request) -> Response:
        try:
            wire_id, run, start = await self._resume(request)
        except Invalid as exc:
            return exc.response()
        except RunNotFound:
            return self._stream(not_found_stream(request.path_params["run_id"]))
        except GateValidationError as exc:
            return detail(422, exc.message)
        except EngineError as exc:
            return detail(400, exc.message)
        if start is None and run.finished:
            return self._stream(end_again(self.s, wire_id, run))
        if start is None:
            start = len(self.s.wire(wire_id, run).events)
        return self._stream(v1_stream(self.s, wire_id, run, start, self._faults(wire_id, run)))
