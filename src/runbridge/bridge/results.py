"""What the run and gate tools return: typed models (their JSON Schemas are the tools' output schemas), kept
under a size budget so a result never floods the model's context."""

from __future__ import annotations

import functools
import json
from typing import Any, Literal

import pydantic_core
from mcp_types import CallToolResult, Result, TextContent
from pydantic import BaseModel, Field

from ..core.models import Gate, GateField, RunStatus, Usage

__all__ = [
    "GateView",
    "RunReport",
    "fit_budget",
    "gate_view",
    "how_to_answer",
    "next_step",
    "self_contained",
    "structured",
    "tool_result",
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
    step = gate.step.name or gate.step.id if gate.step else None
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
) -> str:
    """What to do next about a run: which tool, with which ids. How to answer a gate is its `how_to_answer`, not
    repeated here. `answerable`: the open gate can be answered through runbridge; `watch`: also offer runs_watch
    for it (it asks the user directly where the client supports that)."""
    if done:
        return "The run is over. runs_events lists its events; runs_fork can start a new run from a point in it."
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
    if status is RunStatus.PAUSED:
        return (
            f"The run is paused in the backend (by an operator, not at a gate). Call runs_watch with "
            f"run_id={run_id!r} to follow it once it goes on, or runs_cancel to stop it."
        )
    if lost:
        return (
            "runbridge cannot follow this run any more. runs_events lists the events it saw; check the run in the "
            "backend's own UI."
        )
    return (
        f"Still running. Call runs_watch with run_id={run_id!r} to keep following it (it resumes from the cursor), "
        "runs_get for a snapshot, or runs_cancel to stop it."
    )


class RunReport(BaseModel):
    """A run as runbridge last saw it, with what to do next."""

    profile: str
    run_id: str
    target_id: str | None = None
    status: RunStatus
    done: bool = Field(description="True once the run completed, failed or was cancelled.")
    decision: Literal["accepted", "declined", "cancelled"] | None = Field(
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


def structured(model: BaseModel) -> dict[str, Any]:
    """`model` as JSON, without the fields that are None and optional with a None default.

    Such a field means the same whether it is null or absent (the output schema does not require it, and its
    default is null), so leaving it out is the same result, shorter to read, and much cheaper for a client to
    check against the output schema: each null would first be tried against the field's non-null type. A field
    that is required, or whose default is not None, keeps its null. Values under `Any` or `dict` fields (a run's
    outputs, a gate's context) are data and are never touched."""
    doc = model.model_dump(mode="json", by_alias=True)
    _prune(model, doc)
    return doc


def _prune(model: BaseModel, doc: dict[str, Any]) -> None:
    for name, key, optional in _fields(type(model)):
        if key not in doc:  # excluded from dumps
            continue
        value = getattr(model, name)
        if value is None:
            if optional:
                del doc[key]
        elif isinstance(value, BaseModel):
            _prune(value, doc[key])
        elif isinstance(value, list | tuple):
            for item, dumped in zip(value, doc[key], strict=False):  # type: ignore[arg-type]
                if isinstance(item, BaseModel):
                    _prune(item, dumped)


@functools.cache
def _fields(cls: type[BaseModel]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON key, whether None may be left out) for each field of a model class."""
    return tuple(
        (name, info.serialization_alias or info.alias or name, info.default is None and not info.is_required())
        for name, info in cls.model_fields.items()
    )


def tool_result(value: Any) -> Any:
    """What a tool returns, ready for the client: a model becomes its structured content (see `structured`) and
    the same JSON, indented, as the text the model reads. Anything else (an MCP result such as
    `InputRequiredResult`, plain data) is returned as it is."""
    if not isinstance(value, BaseModel) or isinstance(value, Result):
        return value
    doc = structured(value)
    text = pydantic_core.to_json(doc, indent=2).decode()
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=doc)


def self_contained(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema with every `$ref` to its own `$defs` replaced by the definition: the same schema, which a
    client validates without resolving a reference at each nested object (with Python's `jsonschema`, half the
    time of a run's result), and which clients that do not follow references read whole. A schema with a
    recursive definition, or a reference elsewhere, cannot be written out so: it is returned as it is."""
    defs: dict[str, Any] = schema.get("$defs", {})
    if not defs:
        return schema

    def expand(node: Any, within: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [expand(item, within) for item in node]  # type: ignore[misc]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")  # type: ignore[union-attr]
        if ref is None:
            return {k: expand(v, within) for k, v in node.items()}  # type: ignore[union-attr]
        name = ref[len("#/$defs/") :] if isinstance(ref, str) and ref.startswith("#/$defs/") else None
        if name is None or name not in defs or name in within:
            raise _Unexpandable(ref)
        notes = {k: expand(v, within) for k, v in node.items() if k != "$ref"}  # type: ignore[union-attr]
        return {**expand(defs[name], (*within, name)), **notes}

    try:
        return expand({k: v for k, v in schema.items() if k != "$defs"}, ())
    except _Unexpandable:
        return schema


class _Unexpandable(Exception):
    """A reference that cannot be replaced by its definition: recursive, or not to the schema's own `$defs`."""
