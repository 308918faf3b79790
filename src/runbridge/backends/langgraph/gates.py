"""A pending `interrupt()` as a gate, and a human's answer as the value it resumes with (docs/backends/langgraph.md).

- With a `response_schema` (an object schema): its properties are the form, and the answer is the object filled in
  (another schema: one field of that type, and the answer is its value).
- A value with `question` and `options`: a choice among the options; the answer is the option chosen.
- Anything else: the value shown in full, and a free answer (JSON, or plain text), resumed as given.

The gate id is `<run id>:<interrupt id>`: an interrupt id is a hash of where the graph stopped, the same in a fork
from a checkpoint before it, so it is made unique per run. A decline answers a choice with its reject-like option
where it has one; LangGraph has no other way to refuse an interrupt, so any other gate stays open.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.errors import GateError
from ...core.models import Gate, GateAnswer, GateField, StepRef
from ...core.text import shorten
from .wire import Interrupt, as_dict, as_list

__all__ = ["ANSWER", "CHOICE", "gate_of", "resume_value"]

CHOICE = "choice"
ANSWER = "answer"
_TYPES = {"string": "text", "boolean": "boolean", "number": "number", "integer": "integer"}
_REJECT = ("reject", "rejected", "decline", "deny", "no", "cancel")
_PROMPT = 2000


def _field(name: str, schema: dict[str, Any], *, required: bool) -> GateField:
    kind = _TYPES.get(str(schema.get("type")), "json")
    options = [str(o) for o in as_list(schema.get("enum"))] or None
    items = as_dict(schema.get("items"))
    if options:
        kind = "select"
    elif schema.get("type") == "array" and as_list(items.get("enum")):
        kind, options = "multiselect", [str(o) for o in as_list(items.get("enum"))]
    title, described = schema.get("title"), schema.get("description")
    return GateField(
        name=name,
        type=kind,  # type: ignore[arg-type]  (values of _TYPES are FieldType literals)
        label=str(title) if title else name,
        description=str(described) if described else None,
        options=options,
        required=required,
        default=schema.get("default"),
    )


def _schema_fields(schema: dict[str, Any]) -> tuple[list[GateField], bool]:
    """The form of a response schema, and whether the answer is the whole object (else one field's value)."""
    properties = as_dict(schema.get("properties"))
    if schema.get("type", "object") == "object" and properties:
        required = {str(r) for r in as_list(schema.get("required"))}
        return [_field(str(k), as_dict(v), required=k in required) for k, v in properties.items()], True
    return [_field(ANSWER, schema, required=True)], False


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1, default=str)


def gate_of(item: Interrupt, *, run_id: str) -> Gate:
    step = StepRef(id=item.node, name=item.node) if item.node else None
    value, resume = item.value, {"interrupt_id": item.id}
    if item.schema is not None:
        fields, whole = _schema_fields(item.schema)
        title = item.schema.get("title")
        prompt = _shown(value) if value is not None else str(title or "The graph asks for an answer")
        return Gate(
            gate_id=f"{run_id}:{item.id}",
            run_id=run_id,
            kind="input",
            prompt=shorten(prompt, _PROMPT) if not isinstance(value, str) else prompt,
            fields=fields,
            step=step,
            resume={**resume, "shape": "object" if whole else "value"},
        )
    data = as_dict(value)
    options = [str(o) for o in as_list(data.get("options"))]
    if isinstance(data.get("question"), str) and options:
        context = {k: v for k, v in data.items() if k not in ("question", "options")}
        return Gate(
            gate_id=f"{run_id}:{item.id}",
            run_id=run_id,
            kind="approval",
            prompt=data["question"],
            fields=[GateField(name=CHOICE, type="select", label="Decision", options=options, required=True)],
            context=context,
            step=step,
            resume={**resume, "shape": "choice"},
        )
    described = "Your answer: JSON (an object, a list, a number, true/false) or plain text; the graph gets it as is."
    return Gate(
        gate_id=f"{run_id}:{item.id}",
        run_id=run_id,
        kind="custom" if not isinstance(value, str) else "input",
        prompt=_shown(value) if value is not None else "The graph stopped for an answer.",
        fields=[GateField(name=ANSWER, type="text", label="Answer", description=described, required=True)],
        step=step,
        resume={**resume, "shape": "free"},
    )


def _free(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text  # plain text is an answer too


def resume_value(gate: Gate, answer: GateAnswer) -> Any:
    """What the interrupt is resumed with; a decline the gate cannot express raises `GateError` (it stays open)."""
    shape = gate.resume.get("shape")
    if answer.decision == "decline":
        options = gate.fields[0].options if gate.fields and shape == "choice" else None
        reject = next((o for o in options or [] if o.lower() in _REJECT), None)
        if reject is None:
            raise GateError(
                "A LangGraph interrupt cannot be declined, only answered: answer it (gates_respond with values), or "
                "stop the run with runs_cancel. The gate stays open."
            )
        return reject
    values = answer.values
    if shape == "choice":
        return values.get(CHOICE)
    if shape == "object":
        return dict(values)
    if shape == "value":
        return values.get(ANSWER)
    return _free(values.get(ANSWER))
