"""Synapse events → the normalised `RunEvent` (docs/backends/orchestrations.md).

One `EventMapper` per run. It places steps by the orchestration's definition (so progress reads "step 2/5
Research: tool web_search"), counts a human step that asks again, and folds the end of a run into one terminal
event: `orchestration_complete` (status and final state) and the run-level `final` that follows it (response,
`step_history`, `shared_state`) become one `run.completed`/`run.failed`/`run.cancelled` carrying outputs and
usage, emitted at `done` (or at the end of the stream). `orchestration_error` is a failed run with its reason.

A v1 stream cut after `orchestration_complete` never brings the `final` with the run's reason and history. The
ending then keeps what the stream did show: the final state, the steps seen to complete or fail (as the history),
and, for a failed run, the last step error as its reason; the event's `summary` says the server's summary is missing.

Synapse reports a run whose step failed without stopping it (a `transform` that raises) as `completed`, and its
`step_history` calls that step completed too: the failure shows only as one `step_error` event. The ending of such a
run keeps those failures (`step_errors`, in its data and its outputs) and its text says so, so that the result shows
them, not only a progress message.

Step names come from the events (`step_name`) and the orchestration's labels, never from ids: Synapse's describe
route leaves `label` empty, but every step announces its name when it starts.
"""

from __future__ import annotations

from typing import Any

from ...core.models import EventKind, RunEvent, StepRef, Usage
from ...core.text import shorten
from .gates import gate_from_payload
from .wire import as_dict, run_status, step_error_text, step_id_of, usage_of

__all__ = ["EventMapper"]

_KINDS: dict[str, EventKind] = {
    "orchestration_start": EventKind.RUN_STARTED,
    "step_start": EventKind.STEP_STARTED,
    "loop_iteration": EventKind.STEP_STARTED,
    "branch_start": EventKind.STEP_STARTED,
    "parallel_start": EventKind.STEP_STARTED,
    "step_complete": EventKind.STEP_COMPLETED,
    "loop_complete": EventKind.STEP_COMPLETED,
    "parallel_complete": EventKind.STEP_COMPLETED,
    "merge_complete": EventKind.STEP_COMPLETED,
    "step_error": EventKind.STEP_FAILED,
    "final": EventKind.MESSAGE,
    "thinking": EventKind.REASONING,
    "llm_thought": EventKind.REASONING,
    "llm_reasoning": EventKind.REASONING,
    "agent_turn": EventKind.REASONING,
    "tool_execution": EventKind.TOOL_CALLED,
    "tool_result": EventKind.TOOL_RESULT,
    "tool_cache_hit": EventKind.TOOL_RESULT,
    "routing_decision": EventKind.DECISION,
    "if_decision": EventKind.DECISION,
    "switch_decision": EventKind.DECISION,
    "human_input_required": EventKind.GATE_OPENED,
    "transform_result": EventKind.ARTIFACT,
}
_ENDINGS = ("orchestration_complete", "orchestration_error")
IGNORED = frozenset({"done", "paused", "stream_complete"})  # stream markers, handled by whoever reads the stream


def _decision(payload: dict[str, Any]) -> str:
    if payload.get("tool_name"):  # an evaluator routing by calling `route_<label>`
        return str(payload["tool_name"]).removeprefix("route_")
    for key in ("matched_case", "decision", "value", "result", "target_step_id"):
        if payload.get(key) not in (None, ""):
            return shorten(payload[key], 40)
    return "?"


class EventMapper:
    """Stateful translation of one run's events; `seq` comes from the caller (an SSE id, or a local counter)."""

    def __init__(self, run_id: str, *, steps: list[StepRef] | None = None, target_id: str | None = None) -> None:
        self.run_id = run_id
        self.target_id = target_id
        known = [s for s in steps or [] if s.id]
        self.step_total = len(known) or None
        self._names = {s.id: s.name for s in known if s.id and s.name}
        self._index = {s.id: i + 1 for i, s in enumerate(known) if s.id}
        self._rounds: dict[str, int] = {}
        self._current: StepRef | None = None
        self._ending: dict[str, Any] | None = None
        self._ending_seq = ""
        self._seen: list[dict[str, Any]] = []  # the steps seen to complete or fail, for an ending without a summary
        self._last_error: str | None = None
        self._step_errors: list[dict[str, Any]] = []  # steps that failed without failing the run

    def step(self, step_id: str | None, name: object = None) -> StepRef | None:
        if not step_id:
            return None
        if name:
            self._names[step_id] = str(name)
        return StepRef(
            id=step_id,
            name=self._names.get(step_id),
            index=self._index.get(step_id),
            total=self.step_total if step_id in self._index else None,
        )

    def feed(self, raw: dict[str, Any], seq: str) -> list[RunEvent]:
        """The events one wire event makes: usually one; none for markers and folded endings."""
        type_ = str(raw.get("type"))
        if type_ in IGNORED:
            return self.finish() if type_ == "done" else []
        if type_ in _ENDINGS or (type_ == "final" and raw.get("intent") == "orchestration"):
            self._fold_ending(type_, raw, seq)
            return []
        out = self.finish()  # an ending followed by something else: the ending stands as it is
        out.append(self._map(type_, raw, seq))
        return out

    def finish(self) -> list[RunEvent]:
        """The folded terminal event, if an ending is pending (at `done`, or when the stream ends)."""
        if self._ending is None:
            return []
        ending, self._ending = self._ending, None
        return [self._terminal(ending, self._ending_seq)]

    @property
    def names(self) -> dict[str, str]:
        """The step names this run's events gave so far, by step id."""
        return dict(self._names)

    @property
    def ending_pending(self) -> bool:
        return self._ending is not None

    # -- mapping ---------------------------------------------------------------------------------------------

    def _map(self, type_: str, raw: dict[str, Any], seq: str) -> RunEvent:
        kind = _KINDS.get(type_, EventKind.LOG)
        step = self.step(step_id_of(raw), raw.get("step_name"))
        if type_ in ("step_complete", "step_error"):
            self._remember(type_, raw, step)
        if kind is EventKind.STEP_STARTED and step is not None:
            self._current = step
        elif kind is EventKind.RUN_STARTED and self.step_total:
            step = StepRef(total=self.step_total)  # no step yet, but progress can count toward the total at once
        elif step is None and type_ not in ("orchestration_start", "orchestration_end", "status"):
            step = self._current  # tool calls and thoughts without a step id belong to the step under way
        gate = None
        text = self._text(type_, raw, step)
        if kind is EventKind.GATE_OPENED:
            step_id = (step.id if step else None) or "human"
            round_ = self._rounds[step_id] = self._rounds.get(step_id, 0) + 1
            gate = gate_from_payload(
                raw, run_id=self.run_id, step=step, round_=round_, seq=seq, target_id=self.target_id
            )
            text = f"waiting for a human: {gate.prompt}"
        return RunEvent(
            kind=kind, raw_type=type_, seq=seq, run_id=self.run_id, step=step, text=text, data=raw, gate=gate
        )

    def _text(self, type_: str, raw: dict[str, Any], step: StepRef | None) -> str:
        name = step.name if step and step.name else "step"
        match type_:
            case "orchestration_start":
                return f"run started: {raw.get('orchestration_name') or raw.get('orchestration_id') or ''}".strip()
            case "step_start":
                return f"{name} started"
            case "step_complete":
                return f"{name} done"
            case "step_error":
                return f"{name} failed: {shorten(step_error_text(raw.get('error')))}"
            case "parallel_start":
                return f"{name}: {raw.get('branch_count', 'its')} branches started"
            case "branch_start":
                index = raw.get("branch_index")
                return f"{name}: branch {index + 1 if isinstance(index, int) else '?'} started"
            case "parallel_complete":
                return f"{name}: all branches done"
            case "loop_complete":
                return f"{name}: loop done after {raw.get('iterations_completed', '?')} iterations"
            case "merge_complete":
                return f"{name}: merged {raw.get('input_count', 'the')} inputs"
            case "context_compact":
                return "context compacted"
            case "loop_limit_reached":
                return f"{name}: loop limit reached"
            case "transform_result":
                return f"{name} result: {shorten(raw.get('result'), 60)}"
            case "tool_execution":
                return f"tool {raw.get('tool_name', '?')}"
            case "tool_result":
                return f"{raw.get('tool_name', 'tool')} returned"
            case "tool_cache_hit":
                return f"{raw.get('tool_name', 'tool')} (cached)"
            case "routing_decision" | "if_decision" | "switch_decision":
                return f"decision: {_decision(raw)}"
            case "final":
                return f"{name} answered: {shorten(raw.get('response', ''), 60)}"
            case "thinking" | "status" | "step_warning":
                return shorten(raw.get("message", type_))
            case "llm_thought" | "agent_turn":
                return f"thinking: {shorten(raw.get('thought') or raw.get('message') or '', 60)}"
            case "llm_reasoning":
                return f"reasoning: {shorten(raw.get('reasoning', ''), 60)}"
            case "loop_iteration":
                return f"{name}: iteration {raw.get('iteration', '?')}"
            case "orchestration_end":
                return "reached the end"
            case _:
                return type_.replace("_", " ")  # an event type this mapper has no words for, as words

    # -- the end of a run ------------------------------------------------------------------------------------

    def _fold_ending(self, type_: str, raw: dict[str, Any], seq: str) -> None:
        ending = self._ending or {"type": type_}
        if self._ending is None:
            self._ending_seq = seq
        if type_ == "orchestration_error":
            ending.update(type=type_, status="failed", error=raw.get("error"))
        elif type_ == "orchestration_complete":
            ending.update(status=raw.get("status"), shared_state=raw.get("final_state"))
        else:  # the run-level `final`: its response, and data with status, step_history and shared_state
            data = as_dict(raw.get("data"))
            ending.setdefault("status", data.get("status"))
            ending["response"] = raw.get("response")
            for key in ("step_history", "shared_state"):
                if key in data:
                    ending[key] = data[key]
        self._ending = ending

    def _remember(self, type_: str, raw: dict[str, Any], step: StepRef | None) -> None:
        entry: dict[str, Any] = {"step_id": step.id if step else None, "step_name": step.name if step else None}
        if type_ == "step_complete":
            entry["status"] = "completed"
            if raw.get("duration_seconds") is not None:
                entry["duration_seconds"] = raw["duration_seconds"]
        else:
            error = step_error_text(raw.get("error"))
            entry["status"], entry["error"] = "failed", error
            self._last_error = error
            self._step_errors.append({"step_id": entry["step_id"], "step": entry["step_name"], "error": error})
        self._seen.append(entry)

    def _terminal(self, ending: dict[str, Any], seq: str) -> RunEvent:
        if ending.get("type") == "orchestration_complete" and "response" not in ending:
            # The run-level `final` never came (a cut stream): keep what the stream showed instead.
            ending.setdefault("step_history", list(self._seen))
            if run_status(ending.get("status")).value == "failed" and not ending.get("error") and self._last_error:
                ending["error"] = self._last_error
            ending["summary"] = "missing: the stream ended before the server's final summary of the run"
        if self._step_errors:
            ending["step_errors"] = list(self._step_errors)
        return terminal_event(self.run_id, ending, seq=seq, raw_type=str(ending.get("type", "final")))


def terminal_event(
    run_id: str, ending: dict[str, Any], *, seq: str, raw_type: str, usage: Usage | None = None
) -> RunEvent:
    """The run's last event from what its ending said: status, response or error, shared state and history."""
    status = run_status(ending.get("status"))
    error = ending.get("error")
    if raw_type == "orchestration_error" and str(error).strip().lower() == "cancelled":
        status = run_status("cancelled")  # the runner reports a cancelled run as this error
    response = ending.get("response")
    kind = {
        "completed": EventKind.RUN_COMPLETED,
        "cancelled": EventKind.RUN_CANCELLED,
    }.get(status.value, EventKind.RUN_FAILED)
    reason = None
    if kind is EventKind.RUN_FAILED:
        reason = str(error or response or f"the run ended with status {ending.get('status')!r}")
        reason = reason.removeprefix("Orchestration error: ")
    outputs: dict[str, Any] = {"response": response, "shared_state": ending.get("shared_state") or {}}
    data: dict[str, Any] = {
        "status": ending.get("status") or status.value,
        "outputs": outputs,
        "step_history": ending.get("step_history") or [],
    }
    if reason is not None:
        data["error"] = reason
    if ending.get("summary"):
        data["summary"] = ending["summary"]
    text = {
        EventKind.RUN_COMPLETED: "run completed",
        EventKind.RUN_CANCELLED: "run cancelled",
    }.get(kind, f"run failed: {shorten(reason or '')}")
    failed: list[dict[str, Any]] = ending.get("step_errors") or []
    if failed and kind is not EventKind.RUN_FAILED:
        # The server calls the run completed although a step in it failed: the result must say so.
        outputs["step_errors"] = data["step_errors"] = failed
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        text += f", but step {first.get('step') or first.get('step_id') or '?'} failed: {shorten(first['error'])}{more}"
    used = usage or usage_of(ending.get("step_history"))
    return RunEvent(kind=kind, raw_type=raw_type, seq=seq, run_id=run_id, text=text, data=data, usage=used)
