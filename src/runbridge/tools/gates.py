"""The gates toolset: see which runs wait for a human, and answer them with the human's decision."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ..bridge.answers import AnswerOutcome, answer_gate
from ..bridge.leases import recover_claims
from ..bridge.results import GateView, gate_view
from ..bridge.users import current_user, visible_gates
from ..core.errors import InputError, sentences
from ..core.models import GateAnswer
from ..core.protocols import GatesAPI
from ._follow import FollowResult, continue_or_none, follow, wait_for
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]


_NAMED = 10  # open gates an "unknown gate" error names


class GatesPage(BaseModel):
    gates: list[GateView]
    next_cursor: str | None = None
    note: str | None = None


async def gates_list(
    ctx: Context[Any, Any],
    run_id: Annotated[str | None, Field(description="Only this run's gates.")] = None,
    include_closed: Annotated[bool, Field(description="Also list answered and closed gates.")] = False,
    cursor: Annotated[str | None, Field(description="next_cursor from a previous page.")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    profile: Annotated[str | None, Field(description="Only this profile; omit for all profiles.")] = None,
) -> GatesPage:
    """Gates waiting for a human, across runs (including ones seen before a restart). Each lists its question,
    fields and how to answer. Relay them to the user; answer only with the user's own decision (gates_respond)."""
    app = app_of(ctx)
    name = app.settings.profile(profile).name if profile else None
    states: tuple[Any, ...] = ("open", "answering", "answered", "declined", "closed") if include_closed else ("open",)
    await recover_claims(app, name, run_id=run_id)  # a gate a stopped runbridge was answering is settled first
    page = await app.registry.gates_page(
        name, run_id=run_id, states=states, cursor=cursor, limit=limit, user=current_user()
    )
    views = [gate_view(r.gate, r.gate.profile, state=r.state) for r in page.items]
    note = None if views or cursor else "No gate is waiting for a human."
    return GatesPage(gates=views, next_cursor=page.next_cursor, note=note)


async def gates_respond(
    gate_id: Annotated[str, Field(min_length=1, max_length=1024, description="The gate to answer (from gates_list).")],
    decision: Annotated[Literal["accept", "decline"], Field(description="The human's decision.")],
    ctx: Context[Any, Any],
    values: Annotated[
        dict[str, Any] | None, Field(description="The human's answers, by field name (for decision=accept).")
    ] = None,
    wait_seconds: Annotated[
        float | None,
        Field(
            description="Seconds to follow the run after answering (default 20; "
            "at most 40 unless the server's max_wait_seconds says otherwise, so the answer arrives before "
            "the 60 s most MCP clients wait for a call)."
        ),
    ] = None,
    profile: Annotated[str | None, Field(description="The gate's profile; omit for the default.")] = None,
) -> FollowResult:
    """Answer a gate with the decision the user gave you, then follow the run on like runs_watch.

    Only call this with the user's explicit answer: a gate is a human decision. A gate is answered at most once;
    values are checked against its fields. Declining an approval rejects it.
    """
    app = app_of(ctx)
    resumed = await continue_or_none(app, ctx)
    if resumed is not None:
        return resumed
    chosen, backend = app.adapters.require(await app.sightings.locate(profile, gate_id=gate_id), "gates", GatesAPI)
    record = await app.registry.get_gate(chosen.name, gate_id)
    if record is not None and not await visible_gates(app.registry, [record]):  # another user's: as if there were none
        record = None
    if record is None:
        elsewhere = await app.sightings.elsewhere(chosen.name, gate_id=gate_id)
        if elsewhere:
            raise InputError(sentences(f"Unknown gate {gate_id!r} on profile {chosen.name!r}", elsewhere))
        some = await app.registry.gates_page(chosen.name, limit=_NAMED)  # however many are open: a few, then "..."
        known = ", ".join(r.gate.gate_id for r in await visible_gates(app.registry, some.items)) or "none are open"
        known += ", ... (gates_list shows them all)" if some.next_cursor else ""
        raise InputError(f"Unknown gate {gate_id!r} on profile {chosen.name!r}. Open gates there: {known}.")
    if record.state == "answering":  # by a runbridge that stopped meanwhile? then it is settled before answering
        await recover_claims(app, chosen.name, run_id=record.gate.run_id)
    outcome = await answer_gate(
        app.registry, backend, chosen.name, gate_id, GateAnswer(decision=decision, values=values or {})
    )
    run = await app.registry.get_run(chosen.name, record.gate.run_id)
    return await follow(
        app,
        ctx,
        chosen.name,
        record.gate.run_id,
        wait=wait_for(app, wait_seconds),
        cursor=run.cursor if run else None,
        target_id=run.target_id if run else None,
        decision=outcome.decision,
        said=_said(outcome),
    )


def _said(outcome: AnswerOutcome) -> str | None:
    """The progress message for the answer, where it is not a plain "accepted/rejected: resuming" (`answered_note`)."""
    if outcome.note:
        return f"{outcome.decision}: {outcome.note}"
    if not outcome.resumed:
        return f"{outcome.decision}: nothing was sent; the run still waits on this gate"
    return None


SPECS = [
    ToolSpec(gates_list, "gates", "List open gates", read_only=True, open_world=False),
    ToolSpec(gates_respond, "gates", "Answer a gate", read_only=False, destructive=True, capability="gates"),
]
