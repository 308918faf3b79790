"""`human_input_required` as a gate, and a human's answer as the resume body (docs/backends/orchestrations.md).

Synapse's gate is a form: `fields` of `{name, type, label, options?}` with `options` a comma-separated string. It
has no reject action of its own: a decline answers an approval-like select with its reject option, and leaves any
other gate open (there is nothing to reject with). The gate id is `run_id:orch_step_id`, stable across reconnects
and restarts; a step that asks again in the same run (a loop) gets a round suffix.
"""

from __future__ import annotations

from typing import Any, cast

from ...core.models import Gate, GateAnswer, GateField, StepRef
from .wire import as_dict, step_id_of

__all__ = ["gate_from_payload", "resume_body"]

_FIELD_TYPES: dict[str, str] = {
    "select": "select",
    "dropdown": "select",
    "radio": "select",
    "multiselect": "multiselect",
    "checkbox": "boolean",
    "boolean": "boolean",
    "bool": "boolean",
    "number": "number",
    "float": "number",
    "integer": "integer",
    "int": "integer",
    "json": "json",
    "object": "json",
}
_APPROVE = frozenset({"approve", "approved", "accept", "yes", "publish", "ok"})
_REJECT = ("reject", "rejected", "decline", "deny", "no")


def _options(raw: object) -> list[str] | None:
    if isinstance(raw, str):
        items = [o.strip() for o in raw.split(",")]
    elif isinstance(raw, list):
        items = [str(o).strip() for o in cast(list[object], raw)]
    else:
        return None
    return [o for o in items if o] or None


def _field(raw: dict[str, Any], *, only: bool) -> GateField:
    kind = _FIELD_TYPES.get(str(raw.get("type", "text")).lower(), "text")
    options = _options(raw.get("options"))
    if kind in ("select", "multiselect") and not options:
        kind = "text"  # a choice with nothing to choose from is asked as text
    required = raw.get("required")
    described = raw.get("description") or raw.get("placeholder")
    return GateField(
        name=str(raw["name"]),
        type=kind,  # type: ignore[arg-type]  (values of _FIELD_TYPES are FieldType literals)
        label=str(raw.get("label") or raw["name"]),
        description=str(described) if described else None,
        options=options if kind in ("select", "multiselect") else None,
        # Synapse marks nothing required; a choice must be made, and a lone field is the whole answer.
        required=required if isinstance(required, bool) else kind == "select" or only,
        default=raw.get("default"),
    )


def _approval_like(fields: list[GateField]) -> GateField | None:
    for field in fields:
        if field.type == "select" and field.options:
            lowered = {o.lower() for o in field.options}
            if lowered & _APPROVE and lowered & set(_REJECT):
                return field
    return None


def gate_from_payload(
    payload: dict[str, Any],
    *,
    run_id: str,
    step: StepRef | None,
    round_: int = 1,
    seq: str | None = None,
    target_id: str | None = None,
) -> Gate:
    """A gate from a `human_input_required` event, or the object of that name in a synchronous `paused` result."""
    step_id = step_id_of(payload) or (step.id if step else None) or "human"
    raw_fields = [as_dict(f) for f in payload.get("fields") or [] if as_dict(f).get("name")]
    fields = [_field(f, only=len(raw_fields) == 1) for f in raw_fields]
    context: dict[str, Any] = {}
    if payload.get("agent_context"):
        context["agent_context"] = payload["agent_context"]
    gate_id = f"{run_id}:{step_id}" if round_ == 1 else f"{run_id}:{step_id}:{round_}"
    return Gate(
        gate_id=gate_id,
        run_id=str(payload.get("run_id") or run_id),
        kind="approval" if _approval_like(fields) else "input",
        prompt=str(payload.get("prompt") or "The orchestration waits for a human's input."),
        fields=fields,
        context=context,
        step=step or StepRef(id=step_id),  # its name comes with its step_start event
        resume={"step_id": step_id, "seq": seq, "target_id": target_id},
    )


def resume_body(gate: Gate, answer: GateAnswer) -> dict[str, Any] | None:
    """`{"response": {name: value}}`; None: leave the gate open."""
    values = dict(answer.values)
    if answer.decision == "decline":
        choice = _approval_like(gate.fields)
        if choice is None:
            return None
        options = choice.options or []
        rejected = next(o for o in options if o.lower() in _REJECT)
        extra = {k: v for k, v in values.items() if k != choice.name and v not in (None, "")}
        return {"response": {**extra, choice.name: rejected}}
    # Always by field name, even for one text field: Synapse stores a bare string as `{"response": text}`, so the
    # step's output would lose the name the orchestration gave the field (and later steps read it by).
    return {"response": values}
