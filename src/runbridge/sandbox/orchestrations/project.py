"""Engine events → Synapse orchestration events (docs/backends/orchestrations.md), with the run's shared state and
history.

A run's wire log is dense (an event's index is its position) and cached, so every stream of the run (the v1 run
stream, each resume stream, any number of v2 connections) reads the same events. v1 streams send the events up to
a stop (a gate, or the end) and then `done`; v2 streams send all of them with ids, including the `paused` and
`done` markers only v2 stores.

What the real server does and the projection copies: a human step shows `step_start` and `human_input_required`
but neither `step_complete` nor a `step_history` entry; the answer lands in `shared_state` under the step's output
key and `human_response`; the message is `shared_state.user_input` and `user_query` (docs/backends/orchestrations.md); a
cost-limit breach is an `orchestration_error`, a failed step is `step_error` then `orchestration_complete` with status
`failed`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from ..events import EngineEvent
from ..model import Step
from ..runs import RunRecord
from .settings import OrchestrationsSettings

__all__ = ["Projector", "RunWire", "WireEvent", "output_key", "step_type"]

_PREVIEW = 500


def step_type(step: Step) -> str:
    """The Synapse step type the definition and `step_start` show."""
    if step.kind == "gate":
        return "human"
    if isinstance(step.output, Mapping) and "switch_on" in step.output:
        return "switch"
    return "tool" if step.kind == "tool" else "agent"


def output_key(step: Step | str) -> str:
    """The `shared_state` key a step's output (or a human step's answer) is stored under."""
    step_id = step if isinstance(step, str) else step.id
    return f"{step_id.removeprefix('step-').replace('-', '_')}_output"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _seconds(start: str | None, end: str) -> float:
    if start is None:
        return 0.0
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


@dataclass(frozen=True)
class WireEvent:
    """One event of a run's wire log: the JSON of its `data:` line, and whether a v1 stream stops after it."""

    index: int
    body: dict[str, Any]
    stop: Literal["gate", "end"] | None = None
    v2_only: bool = False


@dataclass
class _StepTally:
    started_at: str | None = None
    cost: float = 0.0
    tools: int = 0


@dataclass
class RunWire:
    """A run's projected events so far, and the state the sync responses and the v2 status report."""

    run_id: str
    epoch_ms: int
    shared_state: dict[str, Any]
    events: list[WireEvent] = field(default_factory=list[WireEvent])
    consumed: int = 0
    history: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    tallies: dict[str, _StepTally] = field(default_factory=dict[str, _StepTally])
    last_output: str = ""
    gate: dict[str, Any] | None = None
    outcome: dict[str, str] | None = None
    end_at: int | None = None
    cost: float = 0.0
    tokens: int = 0

    @property
    def ended(self) -> bool:
        return self.outcome is not None


class Projector:
    """Projects and caches every run's wire log for one server's settings."""

    def __init__(self, settings: OrchestrationsSettings) -> None:
        self.settings = settings
        self._wires: dict[str, RunWire] = {}

    def sync(self, run: RunRecord, wire_id: str, epoch_ms: int) -> RunWire:
        """The run's wire log, brought up to date with its engine log."""
        wire = self._wires.get(run.id)
        if wire is None:
            message = str(run.inputs.get("message", ""))
            state = {"user_input": message, "user_query": message}
            wire = self._wires[run.id] = RunWire(wire_id, epoch_ms, state)
        for event in run.events[wire.consumed :]:
            self._project(run, wire, event)
        wire.consumed = len(run.events)
        return wire

    # -- projection --------------------------------------------------------------------------------------------

    def _add(self, wire: RunWire, body: dict[str, Any], stop: Literal["gate", "end"] | None = None) -> None:
        wire.events.append(WireEvent(len(wire.events), body, stop))

    def _marker(self, wire: RunWire, type_: str) -> None:
        wire.events.append(WireEvent(len(wire.events), {"type": type_}, v2_only=True))

    def _where(self, step: Step) -> dict[str, Any]:
        return {self.settings.step_key: step.id, "step_name": step.name}

    def _project(self, run: RunRecord, wire: RunWire, ev: EngineEvent) -> None:
        p = ev.payload
        step = run.workflow.steps[ev.step_index - 1] if ev.step_index else None
        match ev.type:
            case "run.started":
                body = {"run_id": wire.run_id, "orchestration_id": run.workflow.id}
                self._add(wire, {"type": "orchestration_start", **body, "orchestration_name": run.workflow.name})
            case "step.started" if step is not None:
                wire.tallies[step.id] = _StepTally(started_at=ev.timestamp)
                body = {"type": "step_start", **self._where(step)}
                if self.settings.step_key == "orch_step_id":
                    body["step_type"] = step_type(step)
                self._add(wire, body)
            case "tool.called" if step is not None:
                wire.tallies[step.id].tools += 1
                self._add(wire, {"type": "tool_execution", "tool_name": p.get("tool"), "args": p.get("args", {})})
                wire.events[-1].body.update(self._where(step))
            case "tool.result" if step is not None:
                preview = _text(p.get("result"))[:_PREVIEW]
                self._add(wire, {"type": "tool_result", "tool_name": p.get("tool"), "preview": preview})
                wire.events[-1].body.update(self._where(step))
            case "usage" if step is not None:
                cost = float(p.get("cost_usd", 0.0))
                wire.tallies[step.id].cost += cost
                wire.cost += cost
                wire.tokens += int(p.get("total_tokens", 0))
            case "gate.opened" if step is not None:
                self._gate(run, wire, step, p)
            case "gate.resolved" if step is not None:
                wire.gate = None
                wire.shared_state[output_key(step)] = p.get("value")
                wire.shared_state["human_response"] = p.get("value")
            case "step.completed" if step is not None and step.kind != "gate":
                self._completed(wire, step, p.get("output"), ev.timestamp)
            case "step.failed" if step is not None:
                error = cast(Mapping[str, Any], p.get("error") or {})
                wire.history.append(self._entry(wire, step, "failed", ev.timestamp))
                self._add(wire, {"type": "step_error", **self._where(step), "error": error.get("message", "failed")})
            case "run.completed":
                self._add(wire, {"type": "orchestration_end", self.settings.step_key: "END"})
                self._end(wire, "completed", run.workflow.result or f"{run.workflow.name} finished.")
            case "run.failed":
                self._failed(run, wire, ev)
            case "run.cancelled":
                self._end(wire, "cancelled", "Cancelled")
            case "log":
                self._add(wire, {"type": "status", "message": p.get("message", "")})
            case _:
                pass  # the human step's completion, and anything not on Synapse's wire

    def _gate(self, run: RunRecord, wire: RunWire, step: Step, p: Mapping[str, Any]) -> None:
        spec = step.gate
        assert spec is not None
        fields: list[dict[str, Any]] = []
        for f in spec.fields:
            item: dict[str, Any] = {"name": f.name, "type": f.type, "label": f.label or f.name}
            if f.options:
                item["options"] = ",".join(f.options)  # a comma-separated string, as Synapse's documentation shows it
            fields.append(item)
        gate = {
            "type": "human_input_required",
            self.settings.step_key: step.id,
            "prompt": p.get("prompt") or spec.prompt,
            "fields": fields,
            "run_id": wire.run_id,
            "agent_context": wire.last_output,
            "channel_id": None,
        }
        wire.gate = gate
        self._add(wire, gate, stop="gate")
        self._marker(wire, "paused")

    def _completed(self, wire: RunWire, step: Step, output: Any, at: str) -> None:
        if isinstance(output, Mapping) and "switch_on" in output:
            rule = cast(Mapping[str, Any], output)
            answers = wire.shared_state.get(output_key(str(rule.get("from_step", ""))))
            value = answers.get(str(rule["switch_on"])) if isinstance(answers, Mapping) else answers
            decision = {"expression": str(rule["switch_on"]), "value": value, "matched_case": str(value)}
            self._add(wire, {"type": "switch_decision", **self._where(step), **decision})
        else:
            text = _text(output if output is not None else f"{step.name} done.")
            wire.shared_state[output_key(step)] = text
            wire.last_output = text
            self._add(wire, {"type": "final", "response": text, **self._where(step)})
        entry = self._entry(wire, step, "completed", at)
        wire.history.append(entry)
        self._add(wire, {"type": "step_complete", **self._where(step), "duration_seconds": entry["duration_seconds"]})

    def _entry(self, wire: RunWire, step: Step, status: str, at: str) -> dict[str, Any]:
        tally = wire.tallies.get(step.id, _StepTally())
        entry: dict[str, Any] = {
            "step_id": step.id,
            "step_name": step.name,
            "step_type": step_type(step),
            "status": status,
            "started_at": tally.started_at,
            "ended_at": at,
            "duration_seconds": _seconds(tally.started_at, at),
            "output_key": output_key(step),
        }
        if step_type(step) in ("agent", "tool"):
            entry["turns"] = 1 + tally.tools  # one model turn, plus one per tool call it made
            entry["cost_usd"] = round(tally.cost, 6)
        return entry

    def _failed(self, run: RunRecord, wire: RunWire, ev: EngineEvent) -> None:
        error = cast(Mapping[str, Any], ev.payload.get("error") or {})
        message = str(error.get("message", "The orchestration failed."))
        if error.get("code") != "cost_limit_exceeded":
            self._end(wire, "failed", f"Orchestration error: {message}")
            return
        # A run-level limit: the step under way never completed, but what it cost still counts.
        current = next((s for s in run.workflow.steps if s.id == run.current_step), None)
        if current is not None and not any(h["step_id"] == current.id for h in wire.history):
            wire.history.append(self._entry(wire, current, "failed", ev.timestamp))
        wire.outcome, wire.gate = {"status": "failed", "response": message}, None
        wire.end_at = len(wire.events)
        self._add(wire, {"type": "orchestration_error", "error": message}, stop="end")
        self._marker(wire, "done")

    def _end(self, wire: RunWire, status: str, response: str) -> None:
        wire.outcome, wire.gate = {"status": status, "response": response}, None
        wire.end_at = len(wire.events)
        state = dict(wire.shared_state)
        self._add(
            wire, {"type": "orchestration_complete", "run_id": wire.run_id, "status": status, "final_state": state}
        )
        data = {"run_id": wire.run_id, "status": status, "step_history": list(wire.history), "shared_state": state}
        final = {"type": "final", "response": response, "intent": "orchestration", "data": data, "tool_name": None}
        self._add(wire, final, stop="end")
        self._marker(wire, "done")

    # -- documents ---------------------------------------------------------------------------------------------

    def result(self, wire: RunWire) -> dict[str, Any]:
        """The body of a synchronous `/run` or `/resume`: completed, paused, failed (or cancelled), always 200."""
        if wire.outcome is not None:
            return {
                "status": wire.outcome["status"],
                "run_id": wire.run_id,
                "response": wire.outcome["response"],
                "shared_state": dict(wire.shared_state),
                "step_history": list(wire.history),
            }
        if wire.gate is not None:
            gate = wire.gate
            asked = {k: gate[k] for k in ("prompt", "fields", "agent_context")}
            return {
                "status": "paused",
                "run_id": wire.run_id,
                "human_input_required": {"step_id": gate[self.settings.step_key], **asked},
            }
        return {"status": "running", "run_id": wire.run_id}

    def status(self, run: RunRecord, wire: RunWire) -> dict[str, Any]:
        """The v2 status document."""
        status = wire.outcome["status"] if wire.outcome else "paused" if wire.gate else "running"
        return {
            "run_id": wire.run_id,
            "orchestration_id": run.workflow.id,
            "status": status,
            "current_step_id": None if wire.outcome else run.current_step,
            "waiting_for_human": wire.gate is not None,
            "worker_id": "sandbox-worker-1",
            "total_cost_usd": round(wire.cost, 6),
            "total_tokens_used": wire.tokens,
            "started_at": run.started_at,
            "ended_at": run.completed_at,
        }
