"""A destructive action confirmed by the person, whatever the calling client can do.

* Up to protocol 2025-11-25, with elicitation: a live form ("Delete agent X? ...") sent mid-call; the person
  accepts or declines.
* From 2026-07-28, with elicitation: the call returns an `InputRequiredResult` whose `requestState` names the
  action; the retried call carries the person's answer, and only an answer to that same action counts.
* A client with no elicitation: refused, unless the call carries `confirm: true` (the model says the person
  agreed; the tool's description tells it to ask first).

Where the client can ask the person, `confirm: true` changes nothing: the person is always asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult

from ..core import budget
from ..core.errors import InputError, sentences
from .caller import Caller, carried_state, state_payload

__all__ = ["CONFIRM_KEY", "Confirmation", "Verdict", "confirm_action"]

CONFIRM_KEY = "confirm"  # the one input request a confirming tool has outstanding
_FIELD = "confirm"

Verdict = Literal["accepted", "declined"]


@dataclass(frozen=True)
class Confirmation:
    """What to confirm: `action` identifies it (a retried call's answer counts only for the same one), `question`
    is what the person reads (what will happen and what it affects), `refusal` what the model is told when the
    client cannot ask and the call carries no `confirm: true`."""

    action: str
    question: str
    refusal: str


def _schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            _FIELD: {"type": "boolean", "title": "Yes, do it", "description": "Check to go ahead.", "default": False}
        },
        "required": [_FIELD],
    }


def _accepted(result: ElicitResult) -> bool:
    return result.action == "accept" and bool((result.content or {}).get(_FIELD))


def _carried(ctx: Context[Any, Any]) -> tuple[str | None, ElicitResult | None] | None:
    """On a 2026 retry: the action its state names and the person's answer (None if it carried none)."""
    state = carried_state(
        ctx, refusal="This continuation is not one runbridge can read; call the tool again without it."
    )
    if state is None:
        return None
    answer = (ctx.input_responses or {}).get(CONFIRM_KEY)
    action = state.get(CONFIRM_KEY)
    return (action if isinstance(action, str) else None), (answer if isinstance(answer, ElicitResult) else None)


async def confirm_action(
    ctx: Context[Any, Any], confirmation: Confirmation, *, confirm: bool
) -> Verdict | InputRequiredResult:
    """Ask the person (see the module docstring). Returns their verdict, or the 2026-era question to return."""
    caller = Caller(ctx)
    channel = caller.channel()
    if channel == "input_required":
        carried = _carried(ctx)
        if carried is not None:
            action, answer = carried
            if action != confirmation.action:
                raise InputError("This answer belongs to another confirmation; call the tool again without it.")
            if answer is not None:
                return "accepted" if _accepted(answer) else "declined"
        params = ElicitRequestFormParams(message=confirmation.question, requested_schema=_schema())
        payload = state_payload(**{CONFIRM_KEY: confirmation.action})
        return InputRequiredResult(input_requests={CONFIRM_KEY: ElicitRequest(params=params)}, request_state=payload)
    if channel == "live":
        try:
            result = await ctx.session.elicit_form(confirmation.question, _schema(), related_request_id=ctx.request_id)
        finally:
            budget.restart()  # the time the person took is not the backend's
        return "accepted" if _accepted(result) else "declined"
    if confirm:
        return "accepted"
    raise InputError(
        sentences(
            confirmation.refusal,
            "This client cannot ask the person directly: show them what will happen, and only if they agree call "
            "again with confirm: true",
        )
    )
