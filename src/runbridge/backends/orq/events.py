"""orq.ai stream events → runbridge's run events (docs/backends/orq.md has the full table).

Each `data:` payload is `{"type", "timestamp", "data"}`; `data: [DONE]` ends a stream (read by the stream reader,
never mapped). The agents stream (`stream-task`, `stream-run`):

* `agents.execution_started` → `run.started` (a continued task's: `run.resumed`); `event.agents.started` → a log
  line naming the model; `event.agents.thought` → the iteration as a step (`step.completed`, "iteration 2"), with
  the model's reasoning as `reasoning` and its text as `message`; `event.agents.message-created` → a log line;
  `event.agents.execution_named` → a log line (the title is kept in `data.name`);
* `event.workflow_events.tool_execution_started|finished|failed` → `tool.called` / `tool.result` (a failure is a
  `tool.result` whose `data.error` says why: the agent goes on);
* `event.agents.handed_off` → `decision` ("handed off to billing-specialist");
* `event.agents.action_review_requested` / `execution_review_required` → `gate.opened` (decided in orq.ai),
  `action_reviewed` / `execution_reviewed` → `gate.resolved` (with the review);
* `event.agents.inactive` → with `pending_tool_calls` (`finish_reason` `tool_calls` or `function_call`): a tool-call
  gate; otherwise `run.completed` with the last message; usage and billing go on that event either way;
* `event.agents.errored`, `agents.error` → `run.failed`; `agents.timeout` → a log line: the stream stopped, the task
  did not (the adapter then reads the task's state until it ends, as after any stream that stops before the task
  ends: runbridge notes that as a `runbridge.stream_lost` log line).

The responses stream (`/responses` with `stream: true`) maps alike: `response.started` → `run.started`,
`part.delta` / `part.done` → `message.delta` / `message`, `tool.*` → tool events and review gates,
`response.done` → the end or a tool-call gate, `response.failed` → `run.failed`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ...core.models import EventKind, Gate, RunEvent, StepRef, Usage, utc_now
from ...core.text import shorten
from .._wire import parse_time
from .gates import execution_review_gate, review_gate, tool_calls_gate
from .wire import as_dict, usage_of

__all__ = ["LOST_TYPE", "TIMEOUT", "EventMapper"]

TIMEOUT = "agents.timeout"
LOST_TYPE = "runbridge.stream_lost"  # runbridge's own marker: a stream broke before the task ended


class EventMapper:
    """The events of one task, stream after stream (`EventFeed`). `run_id` is the task id once a stream named it."""

    def __init__(self, agent_key: str, run_id: str = "") -> None:
        self.agent_key = agent_key
        self.run_id = run_id
        self.streams = 0  # streams begun on this task: the first starts it, the next ones continue it
        self.usage: Usage | None = None  # the task's total over its inactive events
        self.name: str | None = None
        self._reviews = 0
        self._tools: dict[str, str] = {}  # tool call id -> tool name (for the responses stream's tool.done)

    def begin_stream(self) -> None:
        self.streams += 1

    def finish(self) -> list[RunEvent]:
        return []

    def _event(
        self,
        kind: EventKind,
        raw_type: str,
        ts: datetime,
        text: str,
        data: dict[str, Any],
        *,
        step: StepRef | None = None,
        gate: Gate | None = None,
        usage: Usage | None = None,
        gate_id: str | None = None,
    ) -> RunEvent:
        return RunEvent(
            kind=kind, raw_type=raw_type, seq="", run_id=self.run_id, ts=ts, text=text, data=data, step=step,
            gate=gate, usage=usage, gate_id=gate_id,
        )  # fmt: skip

    def feed(self, raw: dict[str, Any], seq: str) -> list[RunEvent]:
        del seq  # the run log numbers events itself
        type_ = str(raw.get("type") or "unknown")
        data = as_dict(raw.get("data"))
        ts = parse_time(raw.get("timestamp")) or utc_now()
        if type_ in ("agents.execution_started", "response.started"):
            self.run_id = self.run_id or str(data.get("agent_task_id") or data.get("taskId") or "")
            again = self.streams > 1
            kind = EventKind.RUN_RESUMED if again else EventKind.RUN_STARTED
            text = "task continued" if again else f"agent {self.agent_key} started"
            return [self._event(kind, type_, ts, text, data)]
        if type_.startswith("event.workflow_events.tool_execution_") or type_ in (
            "tool.started",
            "tool.done",
            "tool.failed",
        ):
            return [self._tool(type_, data, ts)]
        if type_ in ("event.agents.inactive", "response.done"):
            return self._inactive(type_, data, ts)
        return self._other(type_, data, ts)

    def _tool(self, type_: str, data: dict[str, Any], ts: datetime) -> RunEvent:
        context = as_dict(data.get("tool_execution_context"))
        call = str(context.get("agent_tool_call_id") or data.get("toolCallId") or "")
        name = str(data.get("tool_display_name") or data.get("tool_key") or data.get("toolName") or "")
        if name:
            self._tools[call] = name
        name = name or self._tools.get(call) or "a tool"
        step = StepRef(id=f"tool-call:{call}", name=name) if call else None
        if type_.endswith("started"):
            return self._event(EventKind.TOOL_CALLED, type_, ts, f"calling {name}", data, step=step)
        if type_.endswith("failed"):
            error = as_dict(data.get("error")).get("message") or data.get("error") or "failed"
            out = {**data, "error": shorten(error, 500)}
            return self._event(EventKind.TOOL_RESULT, type_, ts, f"{name} failed: {shorten(error)}", out, step=step)
        return self._event(EventKind.TOOL_RESULT, type_, ts, f"{name} returned", data, step=step)

    def _inactive(self, type_: str, data: dict[str, Any], ts: datetime) -> list[RunEvent]:
        usage = usage_of(data.get("usage"), data.get("billing"))
        if usage is not None:
            self.usage = usage if self.usage is None else self.usage + usage
        reason = str(data.get("finish_reason") or data.get("finishReason") or "stop")
        pending = [as_dict(c) for c in data.get("pending_tool_calls") or data.get("pendingToolCalls") or []]
        if pending:  # `finish_reason` says tool_calls or function_call; the calls are what the task waits for
            gate = tool_calls_gate(self.run_id, self.agent_key, pending, ts)
            text = f"waiting for the caller's tool results: {gate.prompt}"
            return [self._event(EventKind.GATE_OPENED, type_, ts, text, data, step=gate.step, gate=gate, usage=usage)]
        message = data.get("last_message")
        outputs = {"text": message if isinstance(message, str) else None, "finish_reason": reason}
        if self.name:
            outputs["title"] = self.name
        note = {"max_iterations": " (stopped at its iteration limit)", "max_time": " (stopped at its time limit)"}
        text = f"agent answered{note.get(reason, '')}"
        return [self._event(EventKind.RUN_COMPLETED, type_, ts, text, {**data, "outputs": outputs}, usage=usage)]

    def _other(self, type_: str, data: dict[str, Any], ts: datetime) -> list[RunEvent]:
        match type_:
            case "event.agents.thought":
                return self._thought(type_, data, ts)
            case "event.agents.action_review_requested" | "tool.review.requested":
                gate = review_gate(self.run_id, self.agent_key, data, ts)
                text = f"waiting for a review in orq.ai: {gate.prompt}"
                return [self._event(EventKind.GATE_OPENED, type_, ts, text, data, step=gate.step, gate=gate)]
            case "event.agents.action_reviewed" | "tool.review.done":
                call = str(data.get("agent_tool_call_id") or data.get("toolCallId") or "call")
                review = str(data.get("review") or "decided")
                gate_id = f"{self.run_id}:review:{call}"
                step = StepRef(id=f"tool-call:{call}")
                text = f"tool call {review} in orq.ai"
                return [self._event(EventKind.GATE_RESOLVED, type_, ts, text, data, step=step, gate_id=gate_id)]
            case "event.agents.execution_review_required":
                self._reviews += 1
                gate = execution_review_gate(self.run_id, self.agent_key, self._reviews, ts)
                text = f"waiting for a review in orq.ai: {gate.prompt}"
                return [self._event(EventKind.GATE_OPENED, type_, ts, text, data, step=gate.step, gate=gate)]
            case "event.agents.execution_reviewed":
                gate_id = f"{self.run_id}:execution-review:{self._reviews}"
                step = StepRef(id=f"execution-review:{self._reviews}")
                text = "execution reviewed in orq.ai"
                return [self._event(EventKind.GATE_RESOLVED, type_, ts, text, data, step=step, gate_id=gate_id)]
            case "event.agents.handed_off":
                member = str(data.get("agent_id") or "a team member")
                return [self._event(EventKind.DECISION, type_, ts, f"handed off to {member}", data)]
            case "event.agents.execution_named":
                self.name = str(data.get("name") or "") or None
                return [self._event(EventKind.LOG, type_, ts, f"named: {shorten(self.name or '')}", data)]
            case "event.agents.started":
                model = data.get("modelId") or "its model"
                return [self._event(EventKind.LOG, type_, ts, f"{self.agent_key} thinking with {model}", data)]
            case "event.agents.message-created":
                return [self._event(EventKind.LOG, type_, ts, "message added to the task", data)]
            case "part.delta":
                delta = as_dict(data.get("delta")).get("text")
                return [self._event(EventKind.MESSAGE_DELTA, type_, ts, shorten(delta or ""), data)]
            case "part.done":
                part = as_dict(data.get("part")).get("text")
                return [self._event(EventKind.MESSAGE, type_, ts, shorten(part or ""), data)]
            case "event.agents.errored" | "agents.error" | "response.failed":
                message = shorten(data.get("error") or "The agent failed.", 500)
                error = {"message": message, "code": str(data["code"]) if data.get("code") is not None else None}
                out = {**data, "error": error}
                return [self._event(EventKind.RUN_FAILED, type_, ts, f"agent failed: {shorten(message)}", out)]
            case "runbridge.stream_lost":
                message = str(data.get("message") or "the stream stopped")
                return [self._event(EventKind.LOG, type_, ts, f"{message}; following the task's state", data)]
            case "agents.timeout":
                message = str(data.get("message") or "the stream timed out")
                text = f"stream timed out ({shorten(message)}); following the task's state"
                return [self._event(EventKind.LOG, type_, ts, text, data)]
            case _:
                return [self._event(EventKind.LOG, type_, ts, type_, data)]

    def _thought(self, type_: str, data: dict[str, Any], ts: datetime) -> list[RunEvent]:
        iteration = data.get("iteration")
        number = int(iteration) if isinstance(iteration, int | float) and not isinstance(iteration, bool) else None
        step = StepRef(id=f"iteration-{number}", name=f"iteration {number}", index=number) if number else None
        message = as_dict(as_dict(data.get("choice")).get("message"))
        events: list[RunEvent] = []
        reasoning = message.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append(self._event(EventKind.REASONING, type_, ts, shorten(reasoning), {}, step=step))
        texts: list[str] = []
        calls: list[str] = []
        for diff in as_dict(data.get("message_difference")).values():
            for part in as_dict(diff).get("parts") or []:
                p = as_dict(part)
                if p.get("kind") == "text" and isinstance(p.get("text"), str):
                    texts.append(p["text"])
                elif p.get("kind") == "tool_call":
                    calls.append(f"{p.get('tool_name')}({json.dumps(p.get('arguments'), ensure_ascii=False)})")
        said = " ".join(texts)
        label = f"iteration {number}" if number else "thought"
        text = f"{label}: calls {', '.join(calls)}" if calls else f"{label}: {shorten(said)}" if said else label
        events.append(self._event(EventKind.STEP_COMPLETED, type_, ts, text, data, step=step))
        return events
