"""What the run and gate tools return: typed models (their JSON Schemas are the tools' output schemas), kept
under a size budget so a result never floods the model's context."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..core.models import Gate, GateField, Run, RunStatus, Usage
from ..state import RunRecord, RunStore
from .actions import ALL_ACTIONS
from .locating import keep_locator, must_exist

__all__ = [
    "GateView",
    "RunReport",
    "RunSnapshot",
    "fit_budget",
    "gate_view",
    "how_to_answer",
    "next_step",
    "run_snapshot",
]


class GateView(BaseModel):
    """A gate as shown to the model: what the human is asked, and how to answer."""

    profile: str
    gate_id: str
    run_id: str
    kind: str
    prompt: str
    fields: list[GateField]
    context: dict[str, Any] = Field(default_factory=dict)
    redirect_url: str | None = None
    step: str | None = None
    opened_at: str | None = None
    expires_at: str | None = None
    state: str = "open"
    how_to_answer: str = Field(
        default="", description="How to put this gate to the user and phrase their answer (decision and values)."
    )


def gate_view(gate: Gate, profile: str, *, state: str = "open") -> GateView:
    step = gate.step.name if gate.step else None  # by its name only: a backend that gave none shows no step
    return GateView(
        profile=profile,
        gate_id=gate.gate_id,
        run_id=gate.run_id,
        kind=gate.kind,
        prompt=gate.prompt,
        fields=gate.fields,
        context=gate.context,
        redirect_url=gate.redirect_url,
        step=step,
        opened_at=gate.opened_at.isoformat(timespec="seconds"),
        expires_at=gate.expires_at.isoformat(timespec="seconds") if gate.expires_at else None,
        state=state,
        how_to_answer=how_to_answer(gate),
    )


def how_to_answer(gate: Gate) -> str:
    """How to put this gate to the user and phrase their answer for gates_respond: what a sign-in, a confirmation
    or a form needs, field by field. Which tool to call next is the report's `next`, not repeated here."""
    if not gate.resolvable:
        return (
            "Only a person can decide this, in the backend's own UI: runbridge cannot answer it. Tell the user what "
            "it asks and where; the run continues once they have decided there."
        )
    if not gate.fields:
        if gate.kind == "auth" or gate.redirect_url:
            what = "the sign-in link (redirect_url)" if gate.redirect_url else "what the prompt asks them to do"
            return (
                f"Only the user can sign in, never you: give them {what}, ask them to tell you when they have "
                "finished signing in, then answer (gates_respond) with decision 'accept' and no values. If they will "
                "not sign in, 'decline' sends nothing and the run keeps waiting."
            )
        return (
            "A human must decide this, not you: relay the prompt and context to the user and ask whether to go "
            "ahead. Answer (gates_respond) with their decision only: 'accept' (no values) or 'decline'."
        )
    wanted = "; ".join(_field_guide(f) for f in gate.fields)
    if gate.kind in ("approval", "tool_approval"):
        decline = "Answering decision 'decline' (no values) rejects it."
    else:
        decline = "Answering decision 'decline' sends nothing and the run keeps waiting."
    return (
        "A human must decide this, not you: relay the prompt and context to the user in your own words and ask for "
        "their answer; never fill in a value they did not give. Answer (gates_respond) with decision 'accept' and "
        f"values holding their answer by field name: {wanted}. {decline}"
    )


_TYPE_GUIDE = {
    "text": "text",
    "boolean": "true or false",
    "number": "a number",
    "integer": "a whole number",
    "json": "a JSON value",
}


def _field_guide(field: GateField) -> str:
    """`name` (label): what it takes, required or optional."""
    label = f" ({field.label})" if field.label and field.label.lower() != field.name.lower() else ""
    if field.options:
        labels = field.option_labels or []
        choices = ", ".join(
            f"{o!r} ({labels[i]})" if i < len(labels) and labels[i] and labels[i] != o else repr(o)
            for i, o in enumerate(field.options)
        )
        takes = f"a list of {choices}" if field.type == "multiselect" else f"one of {choices}"
    else:
        takes = _TYPE_GUIDE.get(field.type, field.type)
    return f"{field.name}{label}: {takes}, {'required' if field.required else 'optional'}"


def next_step(
    run_id: str,
    *,
    done: bool,
    waiting: GateView | None = None,
    answerable: bool = True,
    lost: bool = False,
    watch: bool = False,
    status: RunStatus | None = None,
    offers: frozenset[str] = ALL_ACTIONS,
) -> str:
    """What to do next about a run: which tool, with which ids. How to answer a gate is its `how_to_answer`, not
    repeated here. `answerable`: the open gate can be answered through runbridge; `watch`: also offer runs_watch
    for it (it asks the user directly where the client supports that); `offers`: the optional actions (`cancel`,
    `fork`) that may be suggested (see `actions.offered_actions`)."""
    if done:
        fork = "; runs_fork can start a new run from a point in it" if "fork" in offers else ""
        return f"The run is over. runs_events lists its events{fork}."
    if waiting is not None and not answerable:
        return (
            f"The run waits for a decision in the backend's own UI. Call runs_watch with run_id={run_id!r} to follow "
            "it."
        )
    if waiting is not None:
        also = (
            f" Or call runs_watch with run_id={run_id!r}: it asks the user directly where the client can."
            if watch
            else ""
        )
        return (
            f"Ask the user as waiting_for.how_to_answer says, then call gates_respond with gate_id={waiting.gate_id!r} "
            f"and their answer.{also}"
        )
    if status is RunStatus.WAITING:
        # The backend says a human is needed, but runbridge has not read the gate yet (the stream shows it).
        return (
            f"The run waits for a human, and runbridge has not read the question yet. Call runs_watch with "
            f"run_id={run_id!r}: it reads the gate and asks the user, or returns it in waiting_for."
        )
    cancel = ", or runs_cancel to stop it" if "cancel" in offers else ""
    if status is RunStatus.PAUSED:
        return (
            f"The run is paused in the backend (by an operator, not at a gate): it goes on only once it is resumed "
            f"there. Call runs_watch with run_id={run_id!r} to follow it after that{cancel}."
        )
    if lost:
        return (
            "runbridge cannot follow this run any more. runs_events lists the events it saw; check the run in the "
            "backend's own UI."
        )
    snapshot = ", runs_get for a snapshot" if cancel else " or runs_get for a snapshot"
    return (
        f"Still running. Call runs_watch with run_id={run_id!r} to keep following it (it resumes from the cursor)"
        f"{snapshot}{cancel}."
    )


class RunReport(BaseModel):
    """A run as runbridge last saw it, with what to do next."""

    profile: str
    run_id: str
    target_id: str | None = None
    status: RunStatus
    done: bool = Field(description="True once the run completed, failed or was cancelled.")
    decision: Literal["accepted", "rejected", "declined", "cancelled"] | None = Field(
        default=None, description="What the human did at a gate during this call, if asked."
    )
    waiting_for: GateView | None = Field(default=None, description="An open gate that needs a human.")
    outputs: Any = None
    error: str | None = None
    error_code: str | None = None
    usage: Usage | None = None
    events_seen: int = Field(default=0, description="Events followed during this call.")
    cursor: str | None = Field(default=None, description="Pass to runs_watch or runs_events to continue here.")
    source: Literal["stream", "status", "lost"] = Field(
        default="stream",
        description=(
            "How runbridge knows the run's state: `stream`, from its events; `status`, from the backend's run status, "
            "read because the event stream stopped before the run's end; `lost`, the stream broke and this backend "
            "can neither re-attach to it nor report the run's status, so the state is unknown (the note says why)."
        ),
    )
    note: str | None = None
    truncated: bool = False
    next: str = Field(description="What to do next.")


def fit_budget(report: RunReport, budget: int) -> RunReport:
    """Keep a report under `budget` characters of JSON by trimming outputs, then gate context."""
    if len(report.model_dump_json()) <= budget:
        return report
    resource = f"runbridge://{report.profile}/runs/{report.run_id}"
    text = json.dumps(report.outputs, ensure_ascii=False, default=str)
    keep = max(200, budget // 2)
    trimmed = report.model_copy(
        update={
            "outputs": {"preview": text[:keep] + "…", "full": resource},
            "truncated": True,
            "note": (report.note + " " if report.note else "") + f"Outputs trimmed; read {resource} for all of it.",
        }
    )
    if len(trimmed.model_dump_json()) > budget and trimmed.waiting_for is not None:
        context = json.dumps(trimmed.waiting_for.context, ensure_ascii=False, default=str)[: budget // 4]
        gate = trimmed.waiting_for.model_copy(update={"context": {"preview": context + "…"}})
        trimmed = trimmed.model_copy(update={"waiting_for": gate})
    return trimmed


class RunSnapshot(BaseModel):
    """A run's current state from the backend, with runbridge's own record of it and what to do next."""

    profile: str
    run: Run
    cursor: str | None = Field(default=None, description="The last event runbridge delivered for this run.")
    open_gates: list[str] = Field(default_factory=list, description="Gate ids waiting for a human.")
    waiting_for: GateView | None = Field(
        default=None, description="The open gate the run waits on (the oldest, when there are several)."
    )
    next: str = Field(description="What to do next.")


def _as_recorded(run: Run, record: RunRecord) -> Run:
    """A backend that cannot say where a run is (Synapse v1 has no run status: after a restart runbridge has not
    followed the run in this process): what runbridge recorded while it followed the run stands, never `unknown`."""
    details = {**run.details, "source": "runbridge's record of the run (the backend cannot report its status)"}
    update: dict[str, Any] = {"status": record.status, "details": details, "error": run.error or record.error}
    if run.outputs is None:
        update["outputs"] = record.outputs
    return run.model_copy(update=update)


async def run_snapshot(
    registry: RunStore, profile: str, run: Run, *, offers: frozenset[str] = ALL_ACTIONS
) -> RunSnapshot:
    """`run` as just read from its backend, recorded (`RunStore.observe`), with the gate it waits on, how to answer it
    and what to do next (`offers`: see `next_step`): what runs_get returns and the run resource shows. Where the
    backend keeps no usage, the usage runbridge summed while it followed the run stands in. A run runbridge has no
    record of, which its backend cannot confirm either (`unknown`), is "no such run" and is not recorded."""
    if run.status is RunStatus.UNKNOWN:
        must_exist(profile, run, await registry.get_run(profile, run.run_id))
    record, gates = await registry.observe(profile, run)
    await keep_locator(registry, profile, run, record)
    if run.status is RunStatus.UNKNOWN and record.status is not RunStatus.UNKNOWN:
        run = _as_recorded(run, record)
    if run.usage is None and record.usage is not None:
        run.usage = record.usage
    first = gates[0].gate if gates else None
    if run.open_gate is not None and run.open_gate.gate_id in {g.gate.gate_id for g in gates}:
        run.open_gate = None  # shown once, as waiting_for, with how to answer it
    elif run.open_gate is not None:
        run.open_gate = run.open_gate.model_copy(update={"profile": profile})
    waiting = gate_view(first, profile) if first is not None else None
    return RunSnapshot(
        profile=profile,
        run=run,
        cursor=record.cursor,
        open_gates=[g.gate.gate_id for g in gates],
        waiting_for=waiting,
        next=next_step(
            run.run_id,
            done=run.status.terminal,
            waiting=waiting,
            answerable=first is None or first.resolvable,
            watch=True,
            status=run.status,
            offers=offers,
        ),
    )
