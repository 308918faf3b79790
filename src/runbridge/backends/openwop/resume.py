"""A human's answer as an OpenWOP `resumeValue`, in the shape the host takes (docs/backends/openwop.md).

Approvals: `{action, feedback?, decidedAt}`. Clarifications: the spec's `{answers: [{id, answer}]}`, or
`{answers: {id: "answer"}}` on the host that keeps its questions in the node's `config` (every answer a string
there). External events: the correlation keys the person confirmed, with the event's body as `eventPayload`. A gate
is never answered with answers nobody gave.
"""

from __future__ import annotations

import json
from typing import Any, cast

from ...core.errors import GateError
from ...core.models import Gate, GateAnswer, utc_now
from .gates import NO_QUESTIONS_FIELD

__all__ = ["alternative_answers", "resume_value"]


def _json_value(raw: object, field: str) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise GateError(f'The field {field!r} must be JSON (for example {{"ok": true}}).') from None


def _answer_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _clarification(gate: Gate, values: dict[str, Any]) -> dict[str, Any]:
    shape = gate.resume.get("answers_shape", "list")
    if shape == "unknown":  # the host never said its questions: only what the person typed goes back
        answers = _json_value(values.get(NO_QUESTIONS_FIELD), NO_QUESTIONS_FIELD)
        if not answers:
            raise GateError(
                "This gate's questions are unknown, and no answers were given; nothing was sent. Give the answers "
                f"as a JSON object keyed by question id in {NO_QUESTIONS_FIELD!r}, or answer it in the host's UI."
            )
        return {"answers": answers}
    if not gate.fields:
        raise GateError("This clarification has no questions to answer; nothing was sent.")
    missing = [f.name for f in gate.fields if f.required and values.get(f.name) in (None, "")]
    if missing:
        raise GateError(f"Answer every question; missing: {', '.join(missing)}.")
    if shape == "map":
        # That host takes a string for every question it asked, optional ones included.
        return {"answers": {f.name: _answer_text(values.get(f.name, "")) for f in gate.fields}}
    return {"answers": [{"id": f.name, "answer": values[f.name]} for f in gate.fields if f.name in values]}


def alternative_answers(gate: Gate, value: Any) -> Any | None:
    """The same clarification answers in the other shape, for a host that refused the first (None: no other)."""
    if gate.resume.get("interrupt_kind") != "clarification" or not isinstance(value, dict):
        return None
    answers = cast(dict[str, Any], value).get("answers")
    if isinstance(answers, dict):
        return {"answers": [{"id": k, "answer": v} for k, v in cast(dict[str, Any], answers).items()]}
    if isinstance(answers, list):
        items = [cast(dict[str, Any], a) for a in cast(list[Any], answers) if isinstance(a, dict)]
        return {"answers": {str(a.get("id")): _answer_text(a.get("answer", "")) for a in items}}
    return None


def _external(gate: Gate, values: dict[str, Any]) -> dict[str, Any]:
    correlation = gate.resume.get("correlation")
    keys = cast(dict[str, Any], correlation) if isinstance(correlation, dict) else {}
    value: dict[str, Any] = {}
    for key, expected in keys.items():  # a key the person left out is the one the host expects
        if key not in values:
            value[key] = expected
            continue
        field = next((f for f in gate.fields if f.name == key), None)
        value[key] = _json_value(values[key], key) if field is not None and field.type == "json" else values[key]
    payload = values.get("eventPayload")
    value["eventPayload"] = _json_value(payload, "eventPayload") if payload not in (None, "") else {}
    return value


def resume_value(gate: Gate, answer: GateAnswer) -> Any | None:
    """The `resumeValue` for an answer, or None when a decline should leave the gate open (nothing to reject)."""
    kind = gate.resume.get("interrupt_kind", "custom")
    values = answer.values
    decided = utc_now().isoformat().replace("+00:00", "Z")
    if kind == "approval":
        feedback = values.get("feedback")
        if answer.decision == "decline":
            return {"action": "reject", "feedback": feedback or "Declined by the user.", "decidedAt": decided}
        action = str(values.get("decision") or "accept")
        allowed = gate.fields[0].options or [] if gate.fields else []
        if action not in allowed:
            raise GateError(f"decision must be one of {allowed}, not {action!r}.")
        value: dict[str, Any] = {"action": action, "decidedAt": decided}
        if action == "refine":
            value["refineFeedback"] = {"scope": "whole", "text": feedback or ""}
        elif feedback:
            value["feedback"] = feedback
        return value
    if answer.decision == "decline":
        return None
    if kind == "clarification":
        return _clarification(gate, values)
    if kind == "external-event":
        return _external(gate, values)
    name = gate.fields[0].name if gate.fields else "value"
    if name not in values:
        raise GateError(f"The answer needs the field {name!r}.")
    return _json_value(values[name], name)
