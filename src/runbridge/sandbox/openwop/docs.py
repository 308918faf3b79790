"""Engine events → OpenWOP RunEventDocs (docs/backends/openwop.md).

One engine event can become two wire events (`interrupt.requested` + `node.suspended`; `run.failed` after a failed
step is preceded by `node.failed` from its own engine event), so the wire log has its own dense sequence. The
projection is deterministic and cached per run: every subscriber of a run sees the same sequence numbers.
Sequences here are 0-based; `render` applies the host's first sequence and field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ..events import TERMINAL_EVENTS, EngineEvent
from ..model import Step
from ..runs import RunRecord
from .variants import HostVariant

__all__ = ["V2_EVENT_NAMES", "Projector", "WireDoc", "WireLog", "interrupt_data", "type_id", "wire_kind"]

_WIRE_KIND = {
    "approval": "approval",
    "tool_approval": "approval",
    "clarification": "clarification",
    "input": "clarification",
    "external": "external-event",
    "custom": "custom",
    "auth": "credential",
}

# The v1 event names v2 spells differently (the v2 event code map); every other name is the same in both.
V2_EVENT_NAMES = {"agent.toolCalled": "agent.tool-called", "agent.toolReturned": "agent.tool-returned"}

TokenMinter = Callable[[str, str, str, int | None], str]
"""(run id, node id, interrupt id, timeoutMs) → signed token."""


def wire_kind(kind: str) -> str:
    """The OpenWOP interrupt kind of an engine gate kind (an `input` form is asked as clarification questions)."""
    return _WIRE_KIND.get(kind, "custom")


def type_id(step: Step) -> str:
    if step.gate is not None:
        return f"hitl.{wire_kind(step.gate.kind)}"
    return {"agent": "agent.llm", "tool": "tool.call", "fail": "agent.llm"}.get(step.kind, "agent.llm")


def interrupt_data(gate: Mapping[str, Any]) -> dict[str, Any]:
    """The `data` of an interrupt from the engine's neutral gate payload."""
    kind = str(gate.get("kind"))
    title = gate.get("title") or gate.get("prompt") or ""
    match wire_kind(kind):
        case "approval":
            artifact = dict(gate.get("artifact") or {})
            return {
                "artifactId": str(artifact.pop("artifactId", f"art_{gate.get('interrupt_id')}")),
                "artifactType": gate.get("artifact_type", "document"),
                "title": title,
                "description": gate.get("description") or "",
                "artifactData": artifact,
                "actions": list(gate.get("actions") or []),
            }
        case "clarification":
            questions = gate.get("questions")
            if questions is None:
                questions = [
                    {"id": f["name"], "question": f.get("label") or f["name"]}
                    | ({"schema": {"type": "string", "enum": f["options"]}} if f.get("options") else {})
                    for f in gate.get("fields") or []
                ]
            return {"title": title, "contextType": "text", "questions": questions}
        case "external-event":
            return {"title": title, "eventType": gate.get("event_type", ""), "correlation": gate.get("correlation", {})}
        case _:
            return {"title": title, "prompt": gate.get("prompt", ""), "customKind": kind, "payload": {}}


_RESUMED_ACTION = {"external-event": "external-event"}  # the SQLite host's `node.resumed` action by kind


def _resumed(payload: Mapping[str, Any]) -> list[tuple[str, str | None, dict[str, Any], bool]]:
    """The SQLite host's event for an answered gate: `node.resumed` with `{action}` (the approval's action,
    "resolve" for a clarification, "external-event" for an event); a reject resumes nothing there: the node
    completes with `{outcome: "rejected"}` and the run fails."""
    value, kind = payload.get("value"), wire_kind(str(payload.get("kind")))
    action = cast(dict[str, Any], value).get("action") if isinstance(value, dict) else None
    if kind == "approval" and action == "reject":
        return [("node.completed", None, {"outcome": "rejected"}, False)]
    said = action if kind == "approval" and isinstance(action, str) else _RESUMED_ACTION.get(kind, "resolve")
    return [("node.resumed", None, {"action": said}, False)]


@dataclass(frozen=True)
class WireDoc:
    """One wire event before the host's spelling is applied."""

    sequence: int
    engine_seq: int
    type: str
    node_id: str | None
    payload: dict[str, Any]
    timestamp: str
    debug_only: bool = False

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS


@dataclass
class WireLog:
    """A run's projected events so far, and how many engine events they cover."""

    docs: list[WireDoc] = field(default_factory=list[WireDoc])
    consumed: int = 0

    @property
    def ended(self) -> bool:
        return bool(self.docs) and self.docs[-1].terminal


class Projector:
    """Projects and caches every run's wire log for one host variant."""

    def __init__(self, variant: HostVariant, mint_token: TokenMinter) -> None:
        self.variant = variant
        self.mint_token = mint_token
        self._logs: dict[str, WireLog] = {}

    def sync(self, run: RunRecord) -> WireLog:
        """The run's wire log, brought up to date with its engine log."""
        log = self._logs.setdefault(run.id, WireLog())
        for event in run.events[log.consumed :]:
            for type_, node, payload, debug_only in self._project(run, event):
                log.docs.append(WireDoc(len(log.docs), event.seq, type_, node, payload, event.timestamp, debug_only))
        log.consumed = len(run.events)
        return log

    def render(self, run_id: str, doc: WireDoc, version: int = 1, *, canonical: bool = False) -> dict[str, Any]:
        """The RunEventDoc JSON in this host's spelling (with an integer `schemaVersion`, except on `twin_fields`).
        In protocol version 2 the event names of the v2 code map and an integer `engineVersion`
        (docs/backends/openwop.md). `canonical` spells it `sequence`/`payload` whatever the host's stream says: every
        reference host's poll does (a `twin_fields` host spells both there too)."""
        v = self.variant
        seq_field, payload_field = ("sequence", "payload") if canonical else (v.seq_field, v.payload_field)
        sequence = doc.sequence + v.first_seq
        out: dict[str, Any] = {"eventId": f"{run_id}-ev{sequence}", "runId": run_id}
        if doc.node_id:
            out["nodeId"] = doc.node_id
        out["type"] = V2_EVENT_NAMES.get(doc.type, doc.type) if version == 2 else doc.type
        out[payload_field] = doc.payload
        out["timestamp"] = doc.timestamp
        out[seq_field] = sequence
        if v.twin_fields and version == 1:  # the SQLite host's record: both spellings, `nodeId` even when null
            out = {"eventId": out["eventId"], "seq": sequence, "sequence": sequence, "runId": run_id}
            out |= {"type": doc.type, "nodeId": doc.node_id, "data": doc.payload, "payload": doc.payload}
            return out | {"timestamp": doc.timestamp}
        out["schemaVersion"] = 1
        out["engineVersion"] = 1 if version == 2 else "1"
        return out

    def _project(self, run: RunRecord, ev: EngineEvent) -> list[tuple[str, str | None, dict[str, Any], bool]]:
        p = ev.payload
        node = ev.step_id
        where = {"nodeId": node, "name": ev.step_name, "index": ev.step_index, "total": ev.step_total}
        match ev.type:
            case "run.started":
                payload = {"workflowId": p.get("workflow_id"), "inputs": p.get("inputs", {})}
                payload |= {k: run.meta[k] for k in ("tags", "metadata") if k in run.meta}
                return [("run.started", None, payload, False)]
            case "step.started":
                step = run.workflow.steps[(ev.step_index or 1) - 1]
                payload = {**where, "typeId": type_id(step)}
                return [("node.started", node, payload, not self.variant.node_started_in_updates)]
            case "tool.called":
                payload = {"agentId": node, "nodeId": node, "toolName": p.get("tool"), "callId": p.get("call_id")}
                return [("agent.toolCalled", node, payload | {"inputs": p.get("args", {})}, False)]
            case "tool.result":
                payload = {"agentId": node, "nodeId": node, "toolName": p.get("tool"), "callId": p.get("call_id")}
                return [("agent.toolReturned", node, payload | {"outcome": p.get("result")}, False)]
            case "usage":
                payload = {
                    "provider": p.get("provider"),
                    "model": p.get("model"),
                    "inputTokens": p.get("input_tokens"),
                    "outputTokens": p.get("output_tokens"),
                    "totalTokens": p.get("total_tokens"),
                    "costEstimateUsd": p.get("cost_usd"),
                    "currency": "USD",
                    "nodeId": node,
                }
                return [("provider.usage", node, payload, False)]
            case "gate.opened":
                return self._interrupt(run, ev)
            case "gate.resolved" if self.variant.resolved_event == "node.resumed":
                return [(t, node, d, debug) for t, _, d, debug in _resumed(p)]
            case "gate.resolved":
                payload = {
                    "nodeId": node,
                    "interruptId": p.get("interrupt_id"),
                    "kind": wire_kind(str(p.get("kind"))),
                    "resumeValue": p.get("value"),
                    "outcome": p.get("outcome"),
                    "resolvedAt": p.get("resolved_at"),
                }
                return [("interrupt.resolved", node, payload, False)]
            case "step.completed":
                completed = ("node.completed", node, {**where, "outputs": {"result": p.get("output")}}, False)
                gated = run.workflow.steps[(ev.step_index or 1) - 1].gate is not None
                if gated and self.variant.resolved_event == "node.resumed":
                    # The SQLite host says the run resumed once the answered node completes.
                    return [completed, ("run.resumed", None, {"resumedBy": "runbridge-sandbox"}, False)]
                return [completed]
            case "step.failed":
                return [("node.failed", node, {**where, "error": p.get("error")}, False)]
            case "run.completed":
                payload = {"outputs": p.get("outputs", {}), "durationMs": p.get("duration_ms")}
                return [("run.completed", None, payload, False)]
            case "run.failed":
                payload = {
                    "error": p.get("error"),
                    "failedNodeId": p.get("step_id"),
                    "durationMs": p.get("duration_ms"),
                }
                return [("run.failed", None, payload, False)]
            case "run.cancelled":
                payload = {"reason": p.get("reason"), "durationMs": p.get("duration_ms")}
                return [("run.cancelled", None, payload, False)]
            case "run.paused" | "run.resumed":
                return [(ev.type, None, {"reason": p.get("reason")} if p.get("reason") else {}, False)]
            case "log":
                payload = {"level": p.get("level", "info"), "message": p.get("message", ""), "nodeId": node}
                return [("log.appended", node, payload, True)]

    def _interrupt(self, run: RunRecord, ev: EngineEvent) -> list[tuple[str, str | None, dict[str, Any], bool]]:
        p = ev.payload
        v = self.variant
        node = ev.step_id or ""
        kind = wire_kind(str(p.get("kind")))
        data = interrupt_data(p)
        token: str | None = None
        if v.gives_token(kind):
            timeout_ms = p.get("timeout_ms")
            token_timeout = timeout_ms if isinstance(timeout_ms, int) else None
            token = self.mint_token(run.id, node, str(p.get("interrupt_id")), token_timeout)
        out: list[tuple[str, str | None, dict[str, Any], bool]] = []
        if v.emit_interrupt_requested:
            out.append(("interrupt.requested", node, self._requested(run, ev, kind, data, token), False))
        if v.emit_node_suspended:
            out.append(("node.suspended", node, self._suspended(ev, kind, data, token), False))
        return out

    def _requested(
        self, run: RunRecord, ev: EngineEvent, kind: str, data: dict[str, Any], token: str | None
    ) -> dict[str, Any]:
        p = ev.payload
        requested: dict[str, Any] = {
            "runId": run.id,
            "nodeId": ev.step_id or "",
            "interruptId": p.get("interrupt_id"),
            "kind": kind,
            "key": p.get("key"),
            "data": data,
            "requestedAt": p.get("requested_at"),
        }
        timeout_ms = p.get("timeout_ms")
        if isinstance(timeout_ms, int):
            requested["timeoutMs"] = timeout_ms
        if token is not None:
            requested["interruptToken"] = token
        if not self.variant.interrupt_event_data:
            del requested["data"]
        elif self.variant.interrupt_config:  # the SQLite host's events say `config`
            requested["config"] = requested.pop("data")
        return requested

    def _suspended(self, ev: EngineEvent, kind: str, data: dict[str, Any], token: str | None) -> dict[str, Any]:
        node = ev.step_id or ""
        if self.variant.interrupt_config:
            # The SQLite host's own shape: the node's `{kind, nodeId, config}`, and the token with its (relative)
            # callback URL where the interrupt has one; no interrupt id, no key.
            suspended: dict[str, Any] = {"kind": kind, "nodeId": node}
            if self.variant.interrupt_event_data:
                suspended["config"] = data
            if token is not None:
                suspended |= {"interruptToken": token, "callbackUrl": f"/v1/interrupts/{token}"}
            return suspended
        suspended = {
            "nodeId": node,
            "interruptId": ev.payload.get("interrupt_id"),
            "kind": kind,
            "key": ev.payload.get("key"),
        }
        if self.variant.interrupt_event_data:
            suspended["data"] = data
        return suspended
