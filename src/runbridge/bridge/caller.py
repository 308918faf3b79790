"""What the calling client can do, by protocol era (docs/architecture.md, the life of a gate), behind one small
interface.

Up to 2025-11-25 a gate is a live `elicitation/create` request sent mid-call, if the client declared elicitation
and the connection has a back-channel. From 2026-07-28 there are no server→client requests: the tool returns an
`InputRequiredResult` whose (SDK-sealed) `requestState` lets the retried call continue the same run. A client
with no elicitation at all gets a structured "waiting for a human" result instead.
"""

from __future__ import annotations

import json
from typing import Any, Literal, cast

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult, InputRequiredResult

from ..core import budget
from ..core.errors import GateError, InputError, RunbridgeError
from ..core.models import Gate
from .gates import elicitation_message, elicitation_schema

__all__ = ["GATE_KEY", "Caller", "Channel", "carried_state", "explain_refused_state", "state_payload"]

MODERN = "2026-07-28"
GATE_KEY = "gate"  # the one input request a run tool ever has outstanding
STATE_VERSION = 1

Channel = Literal["live", "input_required", "none"]

REFUSED_STATE = (
    "Invalid or expired requestState: this answer belongs to a gate question that expired or was altered, so it "
    "was not applied and the run was not resumed. The gate is still open: gates_list shows it, and gates_respond "
    "answers it with the person's decision (or call the tool again without requestState to be asked afresh)."
)


def state_payload(**fields: Any) -> str:
    """The `requestState` a tool hands out with its 2026-era question: `fields`, versioned (read by
    `carried_state`)."""
    return json.dumps({"v": STATE_VERSION, **fields}, separators=(",", ":"))


def carried_state(
    ctx: Context[Any, Any], *, refusal: str, error: type[RunbridgeError] = InputError
) -> dict[str, Any] | None:
    """On a 2026 retry: the state `state_payload` made (None on a first call); any other state is refused with
    `refusal`, as an `error`."""
    raw = ctx.request_state
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except json.JSONDecodeError:
        state = None
    if not isinstance(state, dict) or state.get("v") != STATE_VERSION:
        raise error(refusal)
    return cast(dict[str, Any], state)


class Caller:
    """The MCP request a tool is serving."""

    def __init__(self, ctx: Context[Any, Any]) -> None:
        self.ctx = ctx
        self.protocol_version = ctx.protocol_version or ""

    @property
    def modern(self) -> bool:
        return self.protocol_version >= MODERN

    def _modes(self) -> set[str]:
        caps = self.ctx.client_capabilities
        elicitation = caps.elicitation if caps is not None else None
        if elicitation is None:
            return set()
        modes = {m for m in ("form", "url") if getattr(elicitation, m) is not None}
        return modes or {"form"}  # a bare `elicitation: {}` means form

    def channel(self) -> Channel:
        """How a gate can reach the human during this call."""
        if not self._modes():
            return "none"
        if self.modern:
            return "input_required"
        return "live" if self.ctx.session.can_send_request else "none"

    def _uses_url(self, gate: Gate) -> bool:
        return gate.redirect_url is not None and "url" in self._modes()

    async def progress(self, value: float, total: float | None, message: str) -> None:
        await self.ctx.report_progress(value, total, message)

    async def ask_live(self, gate: Gate) -> ElicitResult:
        """Ask now (2025 era), in URL mode for a sign-in gate when the client can, else with a form.

        The call's time budget starts afresh once the person answered: the time they took is not the backend's."""
        try:
            return await self._elicit(gate)
        finally:
            budget.restart()

    async def _elicit(self, gate: Gate) -> ElicitResult:
        session = self.ctx.session
        if self._uses_url(gate):
            assert gate.redirect_url is not None
            return await session.elicit_url(
                elicitation_message(gate),
                gate.redirect_url,
                _elicitation_id(gate),
                related_request_id=self.ctx.request_id,
            )
        schema = elicitation_schema(gate, titled_enums=self.protocol_version >= "2025-11-25")
        return await session.elicit_form(elicitation_message(gate), schema, related_request_id=self.ctx.request_id)

    def input_required(self, gate: Gate, state: dict[str, Any], *, again: str | None = None) -> InputRequiredResult:
        """End this round (2026 era): ask the question and carry what is needed to continue the same run. `again`
        says why a retry is asked the same question once more (its answer was missing or did not fit)."""
        params: ElicitRequestFormParams | ElicitRequestURLParams
        message = elicitation_message(gate) if again is None else f"{again}\n\n{elicitation_message(gate)}"
        if self._uses_url(gate):
            assert gate.redirect_url is not None
            params = ElicitRequestURLParams(message=message, url=gate.redirect_url)
        else:
            params = ElicitRequestFormParams(message=message, requested_schema=elicitation_schema(gate))
        payload = state_payload(**state)
        return InputRequiredResult(input_requests={GATE_KEY: ElicitRequest(params=params)}, request_state=payload)

    def continuation(self) -> tuple[dict[str, Any], ElicitResult | None] | None:
        """On a 2026 retry: the state this server minted and the human's answer (None when the retry carried none,
        so the question is asked again). None on a first call."""
        state = carried_state(
            self.ctx,
            refusal="This continuation is not one runbridge can read; call the tool again without it.",
            error=GateError,
        )
        if state is None:
            return None
        responses = self.ctx.input_responses or {}
        answer = responses.get(GATE_KEY)
        return state, answer if isinstance(answer, ElicitResult) else None


def _elicitation_id(gate: Gate) -> str:
    return f"runbridge:{gate.profile}:{gate.gate_id}"


async def explain_refused_state(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware, outside the SDK's `requestState` check: its refusal (deliberately silent on why) also says
    what the client can do, since a person's answer is otherwise lost without a next step."""
    try:
        return await call_next(ctx)
    except MCPError as exc:
        if exc.data != {"reason": "invalid_request_state"}:
            raise
        raise MCPError(code=exc.code, message=REFUSED_STATE, data=exc.data) from None
