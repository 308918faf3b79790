"""OpenWOP event types → the normalised `RunEvent` (docs/backends/openwop.md).

One `EventMapper` per watch: it remembers step names and indexes, and which gates it has already announced, so
that `interrupt.requested`, `approval.requested`, `clarification.requested` and `node.suspended` for one interrupt
open one gate, not four.
"""

from __future__ import annotations

from typing import Any, cast

from ...core.models import EventKind, RunEvent, StepRef, utc_now
from ...core.text import shorten
from .gates import approvals_text, gate_from_interrupt, gate_id_of, vote_counts
from .wire import RawEvent, usage_of

__all__ = ["EventMapper"]

_KINDS: dict[str, EventKind] = {
    "run.started": EventKind.RUN_STARTED,
    "run.completed": EventKind.RUN_COMPLETED,
    "run.failed": EventKind.RUN_FAILED,
    "run.cancelled": EventKind.RUN_CANCELLED,
    "run.paused": EventKind.RUN_PAUSED,
    "run.resumed": EventKind.RUN_RESUMED,
    "node.started": EventKind.STEP_STARTED,
    "node.completed": EventKind.STEP_COMPLETED,
    "node.skipped": EventKind.STEP_COMPLETED,
    "node.failed": EventKind.STEP_FAILED,
    "node.suspended": EventKind.GATE_OPENED,
    "interrupt.requested": EventKind.GATE_OPENED,
    "approval.requested": EventKind.GATE_OPENED,
    "clarification.requested": EventKind.GATE_OPENED,
    "interrupt.resolved": EventKind.GATE_RESOLVED,
    "approval.received": EventKind.GATE_RESOLVED,
    "clarification.resolved": EventKind.GATE_RESOLVED,
    "node.resumed": EventKind.GATE_RESOLVED,
    "node.interrupt.resolved": EventKind.GATE_RESOLVED,
    "output.chunk": EventKind.MESSAGE_DELTA,
    "ai.message.chunk": EventKind.MESSAGE_DELTA,
    "agent.reasoned": EventKind.REASONING,
    "agent.reasoning.delta": EventKind.REASONING,
    "agent.reasoning-delta": EventKind.REASONING,
    "agent.toolCalled": EventKind.TOOL_CALLED,
    "agent.tool-called": EventKind.TOOL_CALLED,
    "agent.toolReturned": EventKind.TOOL_RESULT,
    "agent.tool-returned": EventKind.TOOL_RESULT,
    "agent.handoff": EventKind.DECISION,
    "agent.decided": EventKind.DECISION,
    "provider.usage": EventKind.USAGE,
    "artifact.created": EventKind.ARTIFACT,
}


# An interrupt's token answers its gate without any credential: it stays in the gate's private notes, and out of
# the event data that `runs_events` shows.
_PRIVATE = ("interruptToken", "callbackUrl")


def _public(payload: dict[str, Any]) -> dict[str, Any]:
    if "interruptToken" not in payload and "callbackUrl" not in payload:  # every event passes here: no generator
        return payload
    return {k: v for k, v in payload.items() if k not in _PRIVATE}


class EventMapper:
    """Stateful translation of one run's events."""

    def __init__(self, run_id: str, *, steps: list[StepRef] | None = None):
        """`steps`: the workflow's nodes in order, when the host describes them (names, positions, total)."""
        self.run_id = run_id
        known = [s for s in steps or [] if s.id]
        self.step_total = len(known) or None
        self.step_names = {s.id: s.name or s.id for s in known if s.id}
        self._step_index: dict[str, int] = {s.id: i + 1 for i, s in enumerate(known) if s.id}
        self._announced: set[str] = set()
        self._required: dict[str, int] = {}  # approvals a quorum gate needs, by node (for `interrupt.vote` words)
        self._current: StepRef | None = None

    def step(self, node_id: str | None, payload: dict[str, Any]) -> StepRef | None:
        if not node_id:
            return None
        index = payload.get("index")
        total = payload.get("total")
        if isinstance(total, int):
            self.step_total = total
        if not isinstance(index, int):
            index = self._step_index.setdefault(node_id, len(self._step_index) + 1)
        else:
            self._step_index[node_id] = index
        name = payload.get("name") or self.step_names.get(node_id) or node_id
        self.step_names[node_id] = str(name)
        return StepRef(id=node_id, name=str(name), index=index, total=self.step_total)

    def map(self, raw: RawEvent) -> RunEvent:
        kind = _KINDS.get(raw.type, EventKind.LOG)
        payload = raw.payload
        if raw.type.startswith(("node.", "interrupt.")):
            step = self.step(raw.node_id, payload)
            self._current = step
        elif raw.type.startswith(("run.", "state.")):
            step = None
        else:  # tool calls, usage, chunks: attribute them to their node, else to the step under way
            step = self.step(raw.node_id, {}) if raw.node_id else self._current
        gate = None
        text = self._text(raw.type, payload, step)
        if kind is EventKind.GATE_OPENED:
            gate = gate_from_interrupt(payload, run_id=self.run_id, node_id=raw.node_id, step=step)
            if gate.gate_id in self._announced:
                kind, gate = EventKind.LOG, None
            else:
                self._announced.add(gate.gate_id)
                text = f"waiting for a human: {gate.prompt}"
                required = gate.resume.get("required_approvals")
                if isinstance(required, int) and raw.node_id:
                    self._required[raw.node_id] = required
        elif raw.type == "state.snapshot":
            status = str(payload.get("status", ""))
            kind = {
                "completed": EventKind.RUN_COMPLETED,
                "failed": EventKind.RUN_FAILED,
                "cancelled": EventKind.RUN_CANCELLED,
            }.get(status, EventKind.LOG)
        return RunEvent(
            kind=kind,
            raw_type=raw.type,
            seq=str(raw.seq) if raw.seq is not None else "",
            run_id=raw.run_id,
            ts=raw.timestamp or utc_now(),
            step=step,
            text=text,
            data=_public(payload),
            gate=gate,
            gate_id=gate_id_of(payload, run_id=self.run_id, node_id=raw.node_id)
            if kind is EventKind.GATE_RESOLVED
            else None,
            usage=usage_of(payload) if kind in (EventKind.USAGE, EventKind.MESSAGE_DELTA) else None,
        )

    def _vote_text(self, payload: dict[str, Any], step: StepRef | None) -> str:
        """A quorum vote in words: how many approvals the gate has, of how many it needs."""
        inner = payload.get("data")
        votes = cast(dict[str, Any], inner).get("votes") if isinstance(inner, dict) else payload.get("votes")
        accepts, rejects = vote_counts(votes)
        required = self._required.get(step.id) if step and step.id else None
        where = f" on {step.name}" if step and step.name else ""
        return f"vote recorded{where}: {_vote_words(accepts, rejects, required)}; still waiting for more votes"

    def _text(self, type_: str, payload: dict[str, Any], step: StepRef | None) -> str:
        name = step.name if step else None
        match type_:
            case "run.started":
                return "run started"
            case "node.started":
                return f"{name} started"
            case "node.completed":
                return f"{name} done"
            case "node.skipped":
                return f"{name} skipped"
            case "node.failed":
                return f"{name} failed: {shorten(_error_text(payload.get('error')))}"
            case "agent.toolCalled" | "agent.tool-called":
                return f"calling {payload.get('toolName', 'a tool')}"
            case "agent.toolReturned" | "agent.tool-returned":
                failed = " (failed)" if payload.get("error") else ""
                return f"{payload.get('toolName', 'tool')} returned{failed}"
            case "agent.handoff":
                return f"hand-off {payload.get('fromAgentId', '?')} → {payload.get('toAgentId', '?')}"
            case "agent.decided":
                return f"decided: {shorten(payload.get('decision', ''))}"
            case "provider.usage":
                return f"{payload.get('model', 'model')}: {payload.get('totalTokens', '?')} tokens"
            case "artifact.created":
                return f"artifact {payload.get('artifactType', '')} {payload.get('artifactId', '')}".strip()
            case (
                "interrupt.resolved"
                | "approval.received"
                | "clarification.resolved"
                | "node.resumed"
                | "node.interrupt.resolved"
            ):
                return "gate answered; continuing"
            case "interrupt.vote":
                return self._vote_text(payload, step)
            case "run.completed":
                return "run completed"
            case "run.failed":
                return f"run failed: {shorten(_error_text(payload.get('error')))}"
            case "run.cancelled":
                return "run cancelled"
            case "run.paused":
                return "run paused by an operator"
            case "run.resumed":
                return "run resumed"
            case "log.appended":
                return shorten(payload.get("message", ""))
            case _:
                return type_


def _vote_words(accepts: int, rejects: int, required: int | None) -> str:
    counted = approvals_text(accepts, required) if required else f"{accepts} approval{'s' * (accepts != 1)}"
    return counted + (f", {rejects} rejection{'s' * (rejects != 1)}" if rejects else "")


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "unknown error")
    return str(error or "unknown error")
