"""OpenWOP interrupts as gates, and a human's answer as a `resumeValue` (reference §5d, §6.4)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from ...core.errors import GateError
from ...core.models import Gate, GateAnswer, GateField, GateKind, StepRef, utc_now
from .wire import parse_time

__all__ = ["gate_from_interrupt", "has_question", "interrupt_token", "resume_value"]

_ACTION_LABELS = {
    "accept": "Accept",
    "reject": "Reject",
    "refine": "Ask for changes",
}
_KINDS: dict[str, GateKind] = {
    "approval": "approval",
    "clarification": "clarification",
    "external-event": "external",
    "credential": "auth",
}


def interrupt_token(payload: dict[str, Any]) -> str | None:
    """The signed token of an interrupt: `interruptToken`, else the last segment of its `callbackUrl`."""
    token = payload.get("interruptToken") or payload.get("token")
    if isinstance(token, str) and token:
        return token
    url = payload.get("callbackUrl")
    if not isinstance(url, str):
        return None
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) >= 2 and segments[-2] == "interrupts":
        return unquote(segments[-1])
    return None


def has_question(payload: dict[str, Any]) -> bool:
    """Whether an interrupt payload says what it asks (some hosts' events carry only ids and the token)."""
    return isinstance(payload.get("data"), dict) or isinstance(payload.get("payload"), dict)


def gate_from_interrupt(
    payload: dict[str, Any], *, run_id: str, node_id: str | None, step: StepRef | None = None
) -> Gate:
    """A gate from an `interrupt.requested` payload, a `node.suspended` payload, or a snapshot's `interrupt`."""
    raw_kind = str(payload.get("kind") or "custom")
    node = str(payload.get("nodeId") or node_id or "")
    interrupt_id = str(payload.get("interruptId") or payload.get("key") or node)
    data = payload.get("data")
    if not isinstance(data, dict):
        config = payload.get("payload", {})
        data = config.get("config", config) if isinstance(config, dict) else {}
    kind = _KINDS.get(raw_kind, "custom")
    fields: list[GateField]
    if raw_kind == "approval":
        actions = [a for a in data.get("actions") or ["accept", "reject"] if a in _ACTION_LABELS]
        fields = [
            GateField(
                name="decision",
                type="select",
                label="Decision",
                options=actions,
                option_labels=[_ACTION_LABELS[a] for a in actions],
                required=True,
                default="accept" if "accept" in actions else None,
            ),
            GateField(name="feedback", type="text", label="Feedback", description="Optional note for the run"),
        ]
        prompt = str(data.get("title") or data.get("description") or "Approve this step?")
        context = {k: data[k] for k in ("description", "artifactType", "artifactData") if k in data}
    elif raw_kind == "clarification":
        questions = [q for q in data.get("questions") or [] if isinstance(q, dict) and q.get("id")]
        fields = [
            GateField(name=str(q["id"]), type="text", label=str(q.get("question") or q["id"]), required=True)
            for q in questions
        ]
        prompt = "The run needs answers to continue."
        if len(questions) == 1:
            prompt = str(questions[0].get("question") or prompt)
        context = {}
    else:
        name = "eventPayload" if raw_kind == "external-event" else "value"
        fields = [
            GateField(
                name=name,
                type="json",
                label="Event payload (JSON)" if raw_kind == "external-event" else "Value (JSON)",
                required=True,
            )
        ]
        prompt = str(data.get("title") or data.get("prompt") or f"The run waits for a {raw_kind} input.")
        context = {k: v for k, v in data.items() if k not in ("title", "prompt")}
    timeout_ms = payload.get("timeoutMs")
    expires = None
    requested = parse_time(payload.get("requestedAt"))
    if isinstance(timeout_ms, int) and requested is not None:
        expires = requested + timedelta(milliseconds=timeout_ms)
    return Gate(
        gate_id=f"{run_id}:{node}:{interrupt_id}",
        run_id=run_id,
        kind=kind,
        prompt=prompt,
        fields=fields,
        context=context,
        step=step,
        expires_at=expires,
        opened_at=requested or utc_now(),
        resume=_resume_notes(payload, node=node, interrupt_id=interrupt_id, kind=raw_kind, data=data),
    )


def _resume_notes(payload: dict[str, Any], *, node: str, interrupt_id: str, kind: str, data: Any) -> dict[str, Any]:
    """What answering needs later, possibly after a restart: the node (run-scoped resolve), and the token with the
    correlation keys a token resolve must repeat. Kept out of everything shown to the model: the token is a key."""
    notes: dict[str, Any] = {"node_id": node, "interrupt_kind": kind, "interrupt_id": interrupt_id}
    token = interrupt_token(payload)
    if token:
        notes["token"] = token
    correlation = cast(dict[str, Any], data).get("correlation") if isinstance(data, dict) else None
    if isinstance(correlation, dict) and correlation:
        notes["correlation"] = dict(cast(dict[str, Any], correlation))
    return notes


def _json_value(raw: object, field: str) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise GateError(f'The field {field!r} must be JSON (for example {{"ok": true}}).') from None


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
        allowed = gate.fields[0].options or []
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
        missing = [f.name for f in gate.fields if f.required and not values.get(f.name)]
        if missing:
            raise GateError(f"Answer every question; missing: {', '.join(missing)}.")
        return {"answers": [{"id": f.name, "answer": values[f.name]} for f in gate.fields]}
    name = gate.fields[0].name if gate.fields else "value"
    if name not in values:
        raise GateError(f"The answer needs the field {name!r}.")
    parsed = _json_value(values[name], name)
    return {"eventPayload": parsed} if kind == "external-event" else parsed
