"""A gate as an elicitation form, and a human's answer checked against the gate before anything is resumed.

An answer is checked against the very schema the form was built from (`elicitation_schema`), with `jsonschema`: what
the form offers and what an answer may hold cannot drift apart, however the answer came (typed into the form, or
passed to gates_respond)."""

from __future__ import annotations

import json
from typing import Any

from ..core.errors import GateError
from ..core.models import Gate, GateAnswer, GateField

__all__ = ["CONFIRM_FIELD", "answer_from_content", "elicitation_message", "elicitation_schema", "validate_values"]

CONFIRM_FIELD = "done"  # the one field of a confirmation form (an auth gate shown to a form-only client)
_MAX_CONTEXT = 1500
_MAX_TEXT = 20_000  # characters in one answer's text
_SHOWN = 60  # characters of a refused value quoted back


def _property(field: GateField, *, titled_enums: bool) -> dict[str, Any]:
    prop: dict[str, Any] = {"title": field.label or field.name}
    if field.description:
        prop["description"] = field.description
    match field.type:
        case "select" if field.options:
            labels = field.option_labels or field.options
            prop["type"] = "string"
            if titled_enums:
                prop["oneOf"] = [{"const": o, "title": t} for o, t in zip(field.options, labels, strict=False)]
            else:
                prop["enum"] = list(field.options)
                if field.option_labels:
                    prop["enumNames"] = list(labels)
        case "multiselect" if field.options:
            prop["type"] = "array"
            prop["items"] = {"type": "string", "enum": list(field.options)}
        case "boolean":
            prop["type"] = "boolean"
        case "number" | "integer":
            prop["type"] = field.type
        case "json":
            prop["type"] = "string"
            prop["description"] = (field.description or "") + " (JSON)"
        case _:
            prop["type"] = "string"
    if field.default is not None:
        prop["default"] = field.default
    return prop


def elicitation_schema(gate: Gate, *, titled_enums: bool = True) -> dict[str, Any]:
    """The flat JSON Schema an elicitation form needs; a gate with no fields becomes a confirmation."""
    fields = gate.fields or [GateField(name=CONFIRM_FIELD, type="boolean", label="Done", required=True)]
    return {
        "type": "object",
        "properties": {f.name: _property(f, titled_enums=titled_enums) for f in fields},
        "required": [f.name for f in fields if f.required],
    }


def elicitation_message(gate: Gate) -> str:
    """The question, with what the human needs to decide it (the draft, the artifact, the link)."""
    parts = [gate.prompt]
    if gate.step and gate.step.name:  # a step is shown by its name; an id means nothing to the person deciding
        parts[0] = f"{gate.prompt}\n(run {gate.run_id}, step {gate.step.name})"
    if gate.redirect_url:
        parts.append(f"Open this link to continue: {gate.redirect_url}")
    if gate.context:
        rendered = json.dumps(gate.context, ensure_ascii=False, indent=1, default=str)
        if len(rendered) > _MAX_CONTEXT:
            rendered = rendered[: _MAX_CONTEXT - 1] + "…"
        parts.append(f"Context:\n{rendered}")
    return "\n\n".join(parts)


def _checked(field: GateField, prop: dict[str, Any], value: Any) -> Any:
    """`value` for `field`, checked against the field's property in the form's schema (`prop`), as the backend
    takes it: JSON text parsed, a whole number sent as 3.0 passed on as 3."""
    if field.type == "json" and not isinstance(value, str):
        return value  # JSON already: an answer passed to gates_respond, not typed into a form
    # Imported on the first answer, not at every server start: jsonschema and what it brings cost some 50 ms of CPU,
    # and most sessions answer no gate.
    from jsonschema import Draft202012Validator

    if not Draft202012Validator(prop).is_valid(value):
        raise GateError(f"{field.name} must be {_allowed(field)}, not {_shown(value)}.")
    if isinstance(value, str) and len(value) > _MAX_TEXT and field.type != "json":
        raise GateError(f"{field.name} is too long (at most {_MAX_TEXT:,} characters).")
    if field.type == "json":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise GateError(f'{field.name} must be JSON text, e.g. {{"ok": true}}.') from None
    if field.type == "integer" and isinstance(value, float):
        return int(value)
    return value


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"


def _allowed(field: GateField) -> str:
    """What a field accepts, in words (a refusal says what would be taken)."""
    match field.type:
        case "select" if field.options:
            return f"one of {field.options}"
        case "multiselect" if field.options:
            return f"a list drawn from {field.options}"
        case "boolean":
            return "true or false"
        case "integer":
            return "a whole number"
        case "number":
            return "a number"
        case "json":
            return "JSON text"
        case _:
            return "text"


def validate_values(gate: Gate, values: dict[str, Any]) -> dict[str, Any]:
    """Values checked against the gate's fields: unknown names, missing required fields and wrong types refused."""
    fields = {f.name: f for f in gate.fields}
    if not fields:
        return {}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise GateError(f"Unknown field(s) {unknown}; this gate asks for {sorted(fields)}.")
    properties: dict[str, dict[str, Any]] = elicitation_schema(gate)["properties"]
    clean: dict[str, Any] = {}
    for name, field in fields.items():
        value = values.get(name, field.default)
        if value is None or value == "":
            if field.required:
                raise GateError(f"{name} is required ({field.label or name}): {_allowed(field)}.")
            continue
        clean[name] = _checked(field, properties[name], value)
    return clean


def answer_from_content(gate: Gate, action: str, content: dict[str, Any] | None) -> GateAnswer | None:
    """An elicitation result as an answer: None for `cancel` (the human made no choice; the gate stays open)."""
    if action == "cancel":
        return None
    if action == "decline":
        return GateAnswer(decision="decline", values={})
    values = dict(content or {})
    if not gate.fields:
        if values.get(CONFIRM_FIELD) is False:
            return GateAnswer(decision="decline", values={})
        return GateAnswer(decision="accept", values={})
    return GateAnswer(decision="accept", values=validate_values(gate, values))
