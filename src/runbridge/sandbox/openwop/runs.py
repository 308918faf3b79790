"""Discovery, workflow definitions and the run lifecycle: create, read, cancel, fork (docs/backends/openwop.md)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import EngineError, ForkUnsupported
from ..events import iso_now
from ..faults import StreamFaults
from .discovery import discovery_v1, discovery_v2, serves_v2_document
from .envelope import BadRequest, engine_error, error, read_json
from .snapshot import run_snapshot, workflow_definition
from .state import OpenWopState
from .versions import discovery_versions

__all__ = ["RunRoutes"]

_META_KEYS = ("tags", "metadata", "configurable", "tenantId", "scopeId", "callbackUrl")
# How hosts without fork answer it (docs/backends/openwop.md: capability-gated endpoints are 404/501 when not
# advertised).
_FORK_REFUSALS: dict[int, tuple[int, str, str, dict[str, Any] | None]] = {
    404: (404, "not_found", "Not Found", None),
    405: (405, "method_not_allowed", "Method Not Allowed", None),
    501: (501, "not_implemented", "This host does not implement forking runs.", None),
    422: (422, "capability_not_provided", "The host does not provide replay.fork.", {"capability": "replay.fork"}),
}


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object.")
    return cast(dict[str, Any], value)


class RunRoutes:
    """Handlers bound to one app's state."""

    def __init__(self, state: OpenWopState) -> None:
        self.s = state

    async def discovery(self, request: Request) -> Response:
        v = self.s.variant
        if v.discovery == "missing":
            return error(404, "not_found", "Not Found")
        if v.discovery == "unavailable":
            return error(503, "service_unavailable", "Capabilities are not available.", headers={"Retry-After": "1"})
        if v.discovery == "partial":
            return JSONResponse(discovery_versions(v), headers={"Cache-Control": "public, max-age=300"})
        doc = discovery_v2(v) if serves_v2_document(v, request.headers.get("openwop-version")) else discovery_v1(v)
        # A host serving both versions answers by the version asked, so a cache must keep them apart.
        return JSONResponse(doc, headers={"Cache-Control": "public, max-age=300", "Vary": "OpenWOP-Version"})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse({"openapi": "3.1.0", "info": {"title": "runbridge sandbox (OpenWOP v1)", "version": "1"}})

    async def workflow(self, request: Request) -> Response:
        if not self.s.variant.describe_route:
            return error(404, "not_found", f"No route for GET {request.url.path}")
        try:
            workflow = self.s.ctx.engine.workflow(request.path_params["workflow_id"])
        except EngineError as exc:
            return engine_error(exc)
        return JSONResponse(workflow_definition(workflow))

    async def create(self, request: Request) -> Response:
        return await self.s.idempotency.run(request, partial(self._create, request))

    async def _create(self, request: Request, raw: bytes) -> Response:
        try:
            body = _object(read_json(raw), "The body")
            workflow_id = body.get("workflowId")
            if not isinstance(workflow_id, str) or not workflow_id:
                raise BadRequest("workflowId is required.")
            inputs = _object(body.get("inputs", {}), "inputs")
            options = inputs.get("_sandbox")
            if options is not None:
                StreamFaults.from_dict(_object(options, "inputs._sandbox"), ignore_unknown=True)
        except (BadRequest, ValueError) as exc:
            return error(400, "validation_error", str(exc))
        meta = {k: body[k] for k in _META_KEYS if k in body}
        engine = self.s.ctx.engine
        if request.headers.get("x-dedup", "").lower() == "enforce" and "scopeId" in meta:
            active = self._active_in_scope(meta)
            if active is not None:
                return error(
                    409,
                    "run_already_active",
                    f"An active run already exists for scope {meta['scopeId']}.",
                    {"activeRunId": active, "retryAfter": 30},
                    {"Retry-After": "30"},
                )
        try:
            run = engine.start_run(workflow_id, inputs, meta=meta)
        except EngineError as exc:
            return engine_error(exc)
        status_url = self.s.url(request, f"/v1/runs/{run.id}")
        doc: dict[str, Any] = {"runId": run.id, "status": run.status}
        if self.s.variant.events_url != "none":
            doc |= {"eventsUrl": self.s.url(request, f"/v1/runs/{run.id}/events"), "statusUrl": status_url}
        return JSONResponse(doc, status_code=201, headers={"Location": status_url})

    def _active_in_scope(self, meta: Mapping[str, Any]) -> str | None:
        for run in self.s.ctx.engine.runs():
            same = run.meta.get("scopeId") == meta["scopeId"] and run.meta.get("tenantId") == meta.get("tenantId")
            if same and not run.finished:
                return run.id
        return None

    async def get(self, request: Request) -> Response:
        try:
            run = self.s.ctx.engine.get_run(request.path_params["run_id"])
        except EngineError as exc:
            return engine_error(exc)
        return JSONResponse(run_snapshot(self.s, request, run))

    async def cancel(self, request: Request) -> Response:
        return await self.s.idempotency.run(request, partial(self._cancel, request))

    async def _cancel(self, request: Request, raw: bytes) -> Response:
        try:
            body = _object(read_json(raw, default={}), "The body")
        except BadRequest as exc:
            return error(400, "validation_error", str(exc))
        reason = body.get("reason")
        run_id = request.path_params["run_id"]
        try:
            status = self.s.ctx.engine.cancel(run_id, reason if isinstance(reason, str) else None)
        except EngineError as exc:
            return engine_error(exc)
        return JSONResponse({"runId": run_id, "status": status})

    async def pause(self, request: Request) -> Response:
        """`POST /v1/runs/{id}:pause` (202), as the Python reference host: the run stops before its next step."""
        return await self.s.idempotency.run(request, partial(self._pause_or_resume, request, pause=True))

    async def resume(self, request: Request) -> Response:
        """`POST /v1/runs/{id}:resume` (202; 409 when the run is not paused)."""
        return await self.s.idempotency.run(request, partial(self._pause_or_resume, request, pause=False))

    async def _pause_or_resume(self, request: Request, _raw: bytes, *, pause: bool) -> Response:
        run_id = request.path_params["run_id"]
        engine = self.s.ctx.engine
        try:
            status = engine.pause(run_id) if pause else engine.resume(run_id)
        except EngineError as exc:
            return engine_error(exc)
        when = "pausedAt" if pause else "resumedAt"
        return JSONResponse({"runId": run_id, "status": status, when: iso_now()}, status_code=202)

    async def fork(self, request: Request) -> Response:
        refusal = _FORK_REFUSALS.get(self.s.variant.fork_refusal or 0)
        if refusal is not None:  # a host without fork refuses before looking at the run or the body
            return error(*refusal)
        return await self.s.idempotency.run(request, partial(self._fork, request))

    async def _fork(self, request: Request, raw: bytes) -> Response:
        try:
            body = _object(read_json(raw, default={}), "The body")
            mode = body.get("mode", "branch")
            from_seq = body.get("fromSeq")
            if mode not in ("branch", "replay"):
                raise BadRequest("mode must be 'branch' or 'replay'.")
            if from_seq is not None and (not isinstance(from_seq, int) or isinstance(from_seq, bool)):
                raise BadRequest("fromSeq must be an integer.")
            if from_seq is None and self.s.variant.fork_needs_seq:
                raise BadRequest("fromSeq is required: the sequence of the event to fork from.")
        except BadRequest as exc:
            return error(400, "validation_error", str(exc))
        engine = self.s.ctx.engine
        first = self.s.variant.first_seq
        try:
            source = engine.get_run(request.path_params["run_id"])
            if mode == "replay":
                if from_seq not in (None, 0, first):
                    raise ForkUnsupported(f"Replay forks start at sequence {first} only, not {from_seq}.")
                run = engine.fork(source.id, from_seq=None, mode="replay")
            else:
                engine_seq: int | None = None
                if from_seq is not None:
                    docs = self.s.projector.sync(source).docs
                    index = from_seq - first
                    if not 0 <= index < len(docs):
                        return error(422, "validation_error", f"fromSeq {from_seq} is outside the run's event log.")
                    doc = docs[index]
                    # Forking at a terminal event means "after everything": the last event before it.
                    engine_seq = doc.engine_seq - 1 if doc.terminal else doc.engine_seq
                run = engine.fork(source.id, from_seq=engine_seq, mode="branch")
        except EngineError as exc:
            return engine_error(exc)
        doc_out = {
            "runId": run.id,
            "sourceRunId": source.id,
            "fromSeq": from_seq,
            "mode": mode,
            "status": run.status,
            "eventsUrl": self.s.url(request, f"/v1/runs/{run.id}/events"),
        }
        return JSONResponse(doc_out, status_code=201)
