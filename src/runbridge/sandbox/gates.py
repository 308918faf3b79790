"""Gates in the engine's neutral terms: the run status while one waits, and the `gate.opened` payload."""

from __future__ import annotations

from typing import Any

from .events import RunStatus
from .model import GateKind
from .runs import OpenGate

__all__ = ["WAITING_STATUS", "gate_payload"]

WAITING_STATUS: dict[GateKind, RunStatus] = {
    "approval": "waiting-approval",
    "tool_approval": "waiting-approval",
    "clarification": "waiting-input",
    "input": "waiting-input",
    "custom": "waiting-input",
    "auth": "waiting-input",
    "external": "waiting-external",
}


def gate_payload(gate: OpenGate) -> dict[str, Any]:
    """The neutral `gate.opened` payload: everything any family needs to render the gate."""
    spec = gate.spec
    payload: dict[str, Any] = {
        "interrupt_id": gate.interrupt_id,
        "kind": spec.kind,
        "key": gate.key,
        "round": gate.round,
        "prompt": spec.prompt,
        "title": spec.title or spec.prompt,
        "description": spec.description,
        "requested_at": gate.requested_at,
    }
    if spec.kind in ("approval", "tool_approval"):
        payload["actions"] = list(spec.actions)
        payload["artifact_type"] = spec.artifact_type
        payload["artifact"] = dict(spec.artifact or {})
    if spec.questions:
        payload["questions"] = [{"id": q.id, "question": q.question} for q in spec.questions]
    if spec.fields:
        payload["fields"] = [
            {
                "name": f.name,
                "type": f.type,
                "label": f.label or f.name,
                "options": list(f.options),
                "required": f.required,
            }
            for f in spec.fields
        ]
    if spec.kind == "external":
        payload["event_type"] = spec.event_type
        payload["correlation"] = dict(spec.correlation)
    if spec.timeout_ms is not None:
        payload["timeout_ms"] = spec.timeout_ms
    return payload
