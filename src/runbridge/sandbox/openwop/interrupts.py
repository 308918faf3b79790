"""Resolving interrupts: run-scoped by node id, and through signed tokens (docs/backends/openwop.md).

Resume values are accepted in the shapes hosts accept: approval `{action, feedback?, decidedAt}` or legacy
`{decision: "approved" | "rejected"}`; clarification `{answers: [{id, answer}]}` or `{answers: {id: answer}}`;
anything for external, custom and credential interrupts. An `input` gate is shown as clarification questions and
answered the same way.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..engine import AnswerResult
from ..errors import (
    EngineError,
    GateAlreadyResolved,
    GateCancelled,
    GateNotFound,
    GateValidationError,
    RunNotFound,
)
from ..events import iso_now
from ..gates import gate_payload
from ..model import GateKind, GateSpec
from ..runs import OpenGate, RunRecord
from .docs import interrupt_data, wire_kind
from .envelope import BadRequest, engine_error, error, read_json
from .state import OpenWopState
from .tokens import TokenClaims, TokenExpired, TokenInvalid

__all__ = ["InterruptRoutes", "normalise_resume"]

# The SQLite host's outcome of an answered interrupt: "rejected" for a reject, "accepted" for any other answer.
_PAST = {"reject": "rejected"}
_LEGACY = {"approved": "accept", "approve": "accept", "rejected": "reject", "reject": "reject"}


def _answers(value: Any) -> dict[str, Any] | None:
    raw = cast(dict[str, Any], value).get("answers") if isinstance(value, dict) else None
    if isinstance(raw, dict):
        return cast(dict[str, Any], raw)
    if isinstance(raw, list):
        out: dict[str, Any] = {}
        for item in cast(list[Any], raw):
            if not isinstance(item, dict) or "id" not in item:
                raise GateValidationError("Each answer must be an object with an id and an answer.")
            entry = cast(dict[str, Any], item)
            out[str(entry["id"])] = entry.get("answer")
        return out
    return None


def normalise_resume(kind: GateKind | None, value: Any) -> Any:
    """An OpenWOP `resumeValue` in the engine's neutral answer shape for a gate of `kind`."""
    if kind in ("approval", "tool_approval"):
        if isinstance(value, str):
            return {"action": value}
        if isinstance(value, dict):
            answer = dict(cast(dict[str, Any], value))
            if "action" not in answer and "decision" in answer:
                answer["action"] = _LEGACY.get(str(answer["decision"]), answer["decision"])
            refine = answer.get("refineFeedback")
            if "feedback" not in answer and isinstance(refine, dict):
                text = cast(dict[str, Any], refine).get("text")
                if isinstance(text, str):
                    answer["feedback"] = text
            return answer
        return value
    if kind in ("clarification", "input"):
        answers = _answers(value)
        if answers is None:
            return value  # let the engine explain what is missing (or take an input form's plain mapping)
        return answers if kind == "input" else {"answers": answers}
    return value


def _open_gate(run: RunRecord, node_id: str) -> OpenGate | None:
    gate = run.gate
    return gate if gate is not None and gate.node_id == node_id else None


def _correlation_ok(spec: GateSpec, value: Any) -> bool:
    if not spec.correlation:
        return True
    top = cast(dict[str, Any], value) if isinstance(value, dict) else {}
    inner = top.get("eventPayload")
    nested = cast(dict[str, Any], inner) if isinstance(inner, dict) else {}
    return all(top.get(k, nested.get(k)) == v for k, v in spec.correlation.items())


class InterruptRoutes:
    """Handlers bound to one app's state."""

    def __init__(self, state: OpenWopState) -> None:
        self.s = state

    def _gate_error(self, exc: EngineError) -> Response:
        v = self.s.variant
        if isinstance(exc, GateCancelled):
            if v.cancelled_gate_status == 422:
                return error(422, "interrupt_cancelled", exc.message)
            return error(404, "interrupt_not_found", exc.message)
        if isinstance(exc, GateAlreadyResolved):
            if v.already_resolved_status == 404:
                return error(404, "interrupt_not_found", exc.message)
            return error(409, "interrupt_already_resolved", exc.message)
        return engine_error(exc)

    @staticmethod
    def _resume_value(raw: bytes) -> Any:
        body = read_json(raw)
        if not isinstance(body, dict) or "resumeValue" not in body:
            raise BadRequest('The body must be {"resumeValue": ...}.')
        return cast(dict[str, Any], body)["resumeValue"]

    async def resolve(self, request: Request) -> Response:
        if not self.s.variant.key_can_respond:
            return error(
                403,
                "forbidden",
                "The API key lacks the scope approvals:respond.",
                {"scopeRequired": "approvals:respond"},
            )
        return await self.s.idempotency.run(request, partial(self._resolve, request))

    async def _resolve(self, request: Request, raw: bytes) -> Response:
        run_id, node_id = request.path_params["run_id"], request.path_params["node_id"]
        try:
            value = self._resume_value(raw)
        except BadRequest as exc:
            return error(400, "validation_error", str(exc))
        engine = self.s.ctx.engine
        try:
            run = engine.get_run(run_id)
            gate = _open_gate(run, node_id)
            refused = self._config_host_refusal(gate, value)
            if refused is not None:
                return refused
            result = engine.answer_gate(run_id, node_id, normalise_resume(gate.spec.kind if gate else None, value))
        except RunNotFound as exc:
            return engine_error(exc)
        except EngineError as exc:
            return self._gate_error(exc)
        return JSONResponse(self._resolved(run, result, gate.spec.kind if gate is not None else None))

    def _config_host_refusal(self, gate: OpenGate | None, value: Any) -> Response | None:
        """What the SQLite reference host refuses on the run-scoped path (`interrupt_config`): an external event
        (answered only through its token), and clarification answers that are not a string for every question."""
        if not self.s.variant.interrupt_config or gate is None:
            return None
        kind = wire_kind(gate.spec.kind)
        if kind == "external-event":
            return error(404, "interrupt_not_found", "Interrupt resolved or missing.")
        if kind != "clarification":
            return None
        raw = cast(dict[str, Any], value).get("answers") if isinstance(value, dict) else None
        answers = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
        questions = interrupt_data(gate_payload(gate)).get("questions") or []
        for question in cast(list[dict[str, Any]], questions):
            if not isinstance(answers.get(str(question.get("id"))), str):
                return error(422, "validation_error", f'Answer for question "{question.get("id")}" MUST be a string.')
        return None

    def _resolved(self, run: RunRecord, result: AnswerResult, kind: GateKind | None) -> dict[str, Any]:
        if self.s.variant.resolve_response == "run_node_status":
            return {"runId": run.id, "nodeId": result.node_id, "status": result.status_before}
        votes: list[dict[str, Any]] = []
        if isinstance(result.value, dict) and "action" in result.value:
            answer = cast(dict[str, Any], result.value)
            votes.append(
                {
                    "action": answer["action"],
                    "decidedBy": answer.get("decidedBy", "anonymous"),
                    "decidedAt": answer.get("decidedAt", iso_now()),
                }
            )
        if self.s.variant.interrupt_config:
            # The SQLite host names the kind, not the interrupt, says "accepted", and records every answer as a vote
            # `{action, timestamp, voter?}` ("resolve" for anything but an approval).
            answer = cast(dict[str, Any], result.value) if isinstance(result.value, dict) else {}
            vote = {"action": answer.get("action", "resolve"), "timestamp": iso_now()}
            voter = answer.get("voter")
            votes = [vote | ({"voter": voter} if isinstance(voter, str) else {})]
            outcome = _PAST.get(result.outcome, "accepted")
            interrupt = {"kind": wire_kind(str(kind)), "nodeId": result.node_id, "outcome": outcome}
        else:
            interrupt = {"nodeId": result.node_id, "interruptId": result.interrupt_id, "outcome": result.outcome}
        return {"runId": run.id, "status": run.status, "interrupt": interrupt | {"votes": votes}}

    # -- token surface -----------------------------------------------------------------------------------------

    def _unknown_token(self) -> Response | None:
        """How a host that answers every bad token alike (`callback_answers: run_node_status`) refuses one."""
        if self.s.variant.callback_answers != "run_node_status":
            return None
        return error(404, "interrupt_not_found", "Unknown or expired interrupt token.")

    def _claims(self, request: Request) -> TokenClaims | Response:
        try:
            return self.s.signer.verify(request.path_params["token"])
        except TokenExpired as exc:
            return self._unknown_token() or error(410, "interrupt_expired", str(exc))
        except TokenInvalid as exc:
            return self._unknown_token() or error(401, "interrupt_token_invalid", str(exc))

    def _token_gate(self, claims: TokenClaims) -> tuple[RunRecord, OpenGate] | Response:
        try:
            run = self.s.ctx.engine.get_run(claims.run_id)
        except RunNotFound:
            return error(404, "interrupt_not_found", "The interrupt's run no longer exists.")
        gate = _open_gate(run, claims.node_id)
        if gate is None or gate.interrupt_id != claims.interrupt_id:
            return self._unknown_token() or error(
                409, "interrupt_already_resolved", "This interrupt was already resolved or closed."
            )
        return run, gate

    async def inspect_token(self, request: Request) -> Response:
        if not self.s.variant.callback_inspect:
            return error(404, "not_found", f"No route for GET {request.url.path}")
        claims = self._claims(request)
        if isinstance(claims, Response):
            return claims
        found = self._token_gate(claims)
        if isinstance(found, Response):
            return found
        run, gate = found
        doc: dict[str, Any] = {
            "kind": wire_kind(gate.spec.kind),
            "key": gate.key,
            "data": interrupt_data(gate_payload(gate)),
            "runId": run.id,
            "nodeId": gate.node_id,
            "interruptId": gate.interrupt_id,
        }
        if gate.spec.timeout_ms is not None:
            doc["timeoutMs"] = gate.spec.timeout_ms
        return JSONResponse(doc)

    async def resolve_token(self, request: Request) -> Response:
        return await self.s.idempotency.run(request, partial(self._resolve_token, request))

    async def _resolve_token(self, request: Request, raw: bytes) -> Response:
        claims = self._claims(request)
        if isinstance(claims, Response):
            return claims
        if claims.intent != "resolve":
            return error(403, "forbidden", "This token may inspect the interrupt, not resolve it.")
        try:
            value = self._resume_value(raw)
        except BadRequest as exc:
            return error(400, "validation_error", str(exc))
        found = self._token_gate(claims)
        if isinstance(found, Response):
            return found
        run, gate = found
        if not _correlation_ok(gate.spec, value):
            keys = ", ".join(gate.spec.correlation)
            return error(422, "correlation_mismatch", f"The resumeValue must carry the correlation keys: {keys}.")
        try:
            result = self.s.ctx.engine.answer_gate(
                run.id, gate.node_id, normalise_resume(gate.spec.kind, value), interrupt_id=claims.interrupt_id
            )
        except GateValidationError as exc:
            return engine_error(exc)
        except (GateNotFound, GateAlreadyResolved) as exc:
            return self._unknown_token() or error(409, "interrupt_already_resolved", exc.message)
        if self.s.variant.callback_answers == "run_node_status":  # the run's status once the answer is taken
            return JSONResponse({"runId": run.id, "nodeId": result.node_id, "status": run.status})
        return JSONResponse({})
