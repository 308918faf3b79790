"""One turn of a sandbox agent: the events an orq.ai task sends from the message that starts (or continues) it
to the moment it goes inactive, errors, or is still thinking when the stream times out.

Only the event types the official client knows are sent (docs/backends/orq.md). What an agent does follows from its
configuration, so an agent created through the API behaves by the same rules as the seeded ones:

* a `function` tool in `settings.tools`: the first turn asks the caller to run it (`inactive`, `finish_reason:
  "tool_calls"`, `pending_tool_calls`); the turn continued with a `role: "tool"` message answers with the result;
* a tool that `requires_approval` (or `tool_approval_required: "all"`): `action_review_requested`, then the turn waits
  until a person reviews it "in orq.ai's UI" (`POST /_sandbox/orq/reviews/{task_id}`); `action_reviewed` follows;
* `team_of_agents`: hands off to the first member (`handed_off`), whose tool fails once and then works;
* `variables.sandbox_script`: `execution_review` (the whole execution waits for a review), `slow` (thinks until the
  stream times out), `error` (`event.agents.errored`);
* anything else echoes the message.

Every `inactive` event carries usage and billing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio

from .state import WORKSPACE, OrqState, TaskRecord, now_iso

__all__ = ["TICK", "TICK_SECONDS", "event", "message_text", "run_turn"]

TICK: dict[str, Any] = {}
"""Yielded (never sent) while a turn waits: the stream decides whether to send a keep-alive or time out."""
TICK_SECONDS = 0.2

_PROMPT, _COMPLETION = 120, 30
_PRICE_IN, _PRICE_OUT = 0.000_002_5, 0.000_01


def event(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "timestamp": now_iso(), "data": data}


def message_text(message: dict[str, Any]) -> str:
    parts: list[Any] = message["parts"] if isinstance(message.get("parts"), list) else []
    texts = [str(p.get("text")) for p in parts if isinstance(p, dict) and p.get("kind") == "text"]
    files = [p for p in parts if isinstance(p, dict) and p.get("kind") == "file"]
    text = " ".join(texts)
    return f"{text} (+{len(files)} file{'s' if len(files) != 1 else ''})" if files else text


class _Turn:
    def __init__(self, state: OrqState, task: TaskRecord, agent: dict[str, Any], message: dict[str, Any]) -> None:
        self.s, self.task, self.agent, self.message = state, task, agent, message
        self.settings: dict[str, Any] = agent.get("settings") or {}
        self.script = (agent.get("variables") or {}).get("sandbox_script")
        self.iteration = 0

    def context(self, call_id: str) -> dict[str, Any]:
        return {
            "action_id": f"act_{call_id}",
            "agent_tool_call_id": call_id,
            "workspace_id": WORKSPACE,
            "agent_manifest_id": self.agent["_id"],
            "agent_execution_id": self.task.workflow_run_id,
            "product": "agents",
        }

    def thought(self, text: str | None, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        self.iteration += 1
        message_id = self.s.new_id()
        parts: list[dict[str, Any]] = [{"kind": "text", "text": text}] if text else []
        for call in tool_calls or []:
            arguments = json.loads(call["function"]["arguments"] or "{}")
            parts.append(
                {
                    "kind": "tool_call",
                    "tool_name": call["function"]["name"],
                    "tool_call_id": call["id"],
                    "arguments": arguments,
                }
            )
        choice_message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool_calls:
            choice_message["tool_calls"] = [{"index": i, **c} for i, c in enumerate(tool_calls)]
        self.task.usage["prompt_tokens"] += _PROMPT
        self.task.usage["completion_tokens"] += _COMPLETION
        return event(
            "event.agents.thought",
            {
                "agent_id": self.agent["_id"],
                "message_difference": {
                    message_id: {
                        "messageId": message_id,
                        "role": "agent",
                        "parts": parts,
                        "agent_id": self.agent["_id"],
                        "agent_execution_id": self.task.workflow_run_id,
                        "workspace_id": WORKSPACE,
                    }
                },
                "iteration": self.iteration,
                "accumulated_execution_time": 0.05 * self.iteration,
                "choice": {"finish_reason": "tool_calls" if tool_calls else "stop", "message": choice_message},
                "usage": {
                    "prompt_tokens": _PROMPT,
                    "completion_tokens": _COMPLETION,
                    "total_tokens": _PROMPT + _COMPLETION,
                },
            },
        )

    def inactive(
        self, text: str, finish_reason: str = "stop", pending: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        task = self.task
        task.active, task.finish_reason, task.last_message = False, finish_reason, text
        task.pending_tool_calls = list(pending or [])
        task.messages.append(
            {
                "kind": "message",
                "messageId": self.s.new_id(),
                "role": "agent",
                "parts": [{"kind": "text", "text": text}],
            }
        )
        prompt, completion = task.usage["prompt_tokens"], task.usage["completion_tokens"]
        task.usage = {"prompt_tokens": 0, "completion_tokens": 0}  # each inactive event reports its own turn
        input_cost, output_cost = round(prompt * _PRICE_IN, 8), round(completion * _PRICE_OUT, 8)
        data: dict[str, Any] = {
            "last_message": text,
            "finish_reason": finish_reason,
            "workflowRunId": task.workflow_run_id,
            "last_message_full": {"role": "agent", "parts": [{"kind": "text", "text": text}]},
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
            "billing": {
                "total_cost": round(input_cost + output_cost, 8),
                "input_cost": input_cost,
                "output_cost": output_cost,
                "billable": True,
                "integration_id": None,
            },
        }
        if pending:
            data["pending_tool_calls"] = pending
        return event("event.agents.inactive", data)

    async def run(self) -> AsyncIterator[dict[str, Any]]:
        task, agent = self.task, self.agent
        task.active = True
        task.turns += 1
        continuing = task.turns > 1
        task.messages.append(
            {"kind": "message", "messageId": self.message.get("messageId") or self.s.new_id(), **self.message}
        )
        yield event(
            "agents.execution_started", {"agent_task_id": task.id, "workspace_id": WORKSPACE, "trace_id": task.trace_id}
        )
        yield event(
            "event.agents.started",
            {
                "workflowRunId": task.workflow_run_id,
                "inputMessage": {"role": self.message.get("role", "user"), "parts": self.message.get("parts", [])},
                "modelId": agent["model"]["id"],
                "instructions": agent["instructions"],
                "system_prompt": agent.get("system_prompt") or "",
                "agent_manifest_id": agent["_id"],
                "agent_key": agent["key"],
                "is_continuation": continuing,
            },
        )
        if self.message.get("role") == "tool":
            async for item in self.tool_results():
                yield item
            return
        if self.script == "error":
            yield self.thought("Let me look into that.")
            task.active, task.errored = False, "The model provider returned an error."
            yield event(
                "event.agents.errored", {"error": task.errored, "code": 500, "workflowRunId": task.workflow_run_id}
            )
            return
        if self.script == "slow":
            yield self.thought("This needs a lot of research.")
            while True:  # the stream's timeout ends the wait
                await anyio.sleep(TICK_SECONDS)
                yield TICK
        if self.script == "execution_review":
            async for item in self.execution_review():
                yield item
            return
        tools = self.settings.get("tools") or []
        functions = [t for t in tools if t.get("action_type") == "function"]
        reviewed = [t for t in tools if t.get("action_type") != "function" and self.needs_review(t)]
        if functions:
            yield self.client_tool_call(functions[0])
            yield self.inactive("", "tool_calls", task.pending_tool_calls)
            return
        if reviewed:
            async for item in self.tool_review(reviewed[0]):
                yield item
            return
        if agent.get("team_of_agents"):
            async for item in self.hand_off(agent["team_of_agents"][0]):
                yield item
            return
        text = message_text(self.message)
        yield self.thought(f"You said: {text}")
        yield self.named()
        yield self.inactive(f"You said: {text}")

    def named(self) -> dict[str, Any]:
        self.task.named = True
        title = message_text(self.message)[:40] or self.agent["key"]
        return event("event.agents.execution_named", {"name": title, "agent_manifest_id": self.agent["_id"]})

    def needs_review(self, tool: dict[str, Any]) -> bool:
        rule = self.settings.get("tool_approval_required", "respect_tool")
        return rule == "all" or (rule == "respect_tool" and bool(tool.get("requires_approval")))

    def client_tool_call(self, tool: dict[str, Any]) -> dict[str, Any]:
        function = (tool.get("configuration") or {}).get("function") or {}
        schema = function.get("parameters") or {}
        first = next(iter((schema.get("properties") or {}).keys()), "input")
        arguments = json.dumps({first: message_text(self.message) or "Amsterdam"})
        call = {
            "id": f"call_{self.s.new_id()[-8:].lower()}",
            "type": "function",
            "function": {"name": function.get("name") or tool.get("key"), "arguments": arguments},
        }
        self.task.pending_tool_calls = [call]
        return self.thought(None, [call])

    async def tool_results(self) -> AsyncIterator[dict[str, Any]]:
        task = self.task
        parts = [p for p in self.message.get("parts", []) if isinstance(p, dict)]
        yield event(
            "event.agents.message-created",
            {
                "workflowRunId": task.workflow_run_id,
                "spanId": f"sp_{self.s.new_id()[-8:]}",
                "parentId": task.trace_id,
                "message": [{"role": "tool", "parts": parts}],
            },
        )
        results = [
            json.dumps(p.get("result"), ensure_ascii=False) if not isinstance(p.get("result"), str) else p["result"]
            for p in parts
            if p.get("kind") == "tool_result"
        ]
        errors = [str(p.get("error")) for p in parts if p.get("kind") == "error"]
        text = (
            f"The tool said: {'; '.join(results)}"
            if results
            else f"The tool failed: {'; '.join(errors) or 'no result'}"
        )
        task.pending_tool_calls = []
        yield self.thought(text)
        if not task.named:
            yield self.named()
        yield self.inactive(text)

    async def wait_review(self, what: str) -> AsyncIterator[dict[str, Any]]:
        """Until a person reviews (ticks meanwhile, so the stream can send keep-alives and time out)."""
        task = self.task
        task.awaiting_review, task.decision, task.review = what, None, anyio.Event()
        while not task.review.is_set():
            with anyio.move_on_after(TICK_SECONDS):
                await task.review.wait()
            if not task.review.is_set():
                yield TICK
        task.awaiting_review = None

    async def tool_review(self, tool: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        task, agent = self.task, self.agent
        call_id = f"call_{self.s.new_id()[-8:].lower()}"
        arguments = {"order_id": "ord_42", "amount": 20, "reason": message_text(self.message)}
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": tool["key"], "arguments": json.dumps(arguments)},
        }
        yield self.thought(None, [call])
        tool_doc = {
            "id": tool["id"],
            "action_type": tool.get("action_type", "http"),
            "key": tool["key"],
            "display_name": tool.get("display_name") or tool["key"],
            "requires_approval": True,
        }
        yield event(
            "event.agents.action_review_requested",
            {
                "agent_id": agent["_id"],
                "action_id": f"act_{call_id}",
                "requires_approval": True,
                "tool": tool_doc,
                "input": arguments,
                "agent_tool_call_id": call_id,
            },
        )
        async for tick in self.wait_review("action"):
            yield tick
        review = task.decision or "rejected"
        yield event(
            "event.agents.action_reviewed",
            {
                "agent_id": agent["_id"],
                "action_id": f"act_{call_id}",
                "agent_tool_call_id": call_id,
                "review": review,
                "workflowRunId": task.workflow_run_id,
                "review_source": "orq_ui",
                "reviewed_by_id": "usr_reviewer",
            },
        )
        if review == "approved":
            yield event(
                "event.workflow_events.tool_execution_started",
                {
                    "tool_id": tool_doc["id"],
                    "action_type": tool_doc["action_type"],
                    "tool_arguments": arguments,
                    "tool_execution_context": self.context(call_id),
                    "workflowRunId": task.workflow_run_id,
                    "tool_key": tool["key"],
                    "tool_display_name": tool_doc["display_name"],
                },
            )
            yield event(
                "event.workflow_events.tool_execution_finished",
                {
                    "action_type": tool_doc["action_type"],
                    "tool_execution_context": self.context(call_id),
                    "workflowRunId": task.workflow_run_id,
                    "result": {"refund_id": "rf_1", "status": "issued"},
                },
            )
            text = "The refund of 20 for order ord_42 was issued."
        else:
            text = "The refund was not issued: the reviewer rejected it."
        yield self.thought(text)
        yield self.inactive(text)

    async def execution_review(self) -> AsyncIterator[dict[str, Any]]:
        yield self.thought("The release notes are drafted; publishing needs a review.")
        yield event("event.agents.execution_review_required", {})
        async for tick in self.wait_review("execution"):
            yield tick
        review = self.task.decision or "rejected"
        yield event("event.agents.execution_reviewed", {})
        text = (
            "The release notes were published."
            if review == "approved"
            else "Nothing was published: the review rejected it."
        )
        yield self.thought(text)
        yield self.inactive(text)

    async def hand_off(self, member: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        task = self.task
        text = message_text(self.message)
        yield self.thought(f"This is for {member['key']}.")
        yield event("event.agents.handed_off", {"agent_id": member["key"], "input": text})
        call_id = f"call_{self.s.new_id()[-8:].lower()}"
        started = {
            "tool_id": "tool_invoice_lookup",
            "action_type": "http",
            "tool_arguments": {"query": text},
            "tool_execution_context": self.context(call_id),
            "workflowRunId": task.workflow_run_id,
            "tool_key": "invoice_lookup",
            "tool_display_name": "Invoice lookup",
        }
        yield event("event.workflow_events.tool_execution_started", started)
        yield event(
            "event.workflow_events.tool_execution_failed",
            {
                "error": {"message": "invoice service timed out"},
                "action_type": "http",
                "tool_execution_context": self.context(call_id),
                "workflowRunId": task.workflow_run_id,
            },
        )
        yield event("event.workflow_events.tool_execution_started", started)
        yield event(
            "event.workflow_events.tool_execution_finished",
            {
                "action_type": "http",
                "tool_execution_context": self.context(call_id),
                "workflowRunId": task.workflow_run_id,
                "result": {"invoices": 2},
            },
        )
        answer = f"{member['key']}: you have 2 open invoices."
        yield self.thought(answer)
        yield self.named()
        yield self.inactive(answer)


def run_turn(
    state: OrqState, task: TaskRecord, agent: dict[str, Any], message: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    """The events of one turn of `task`, started by `message` (recorded in the task as they are made)."""

    async def recorded() -> AsyncIterator[dict[str, Any]]:
        async for item in _Turn(state, task, agent, message).run():
            if item is not TICK:
                task.events.append(item)
            yield item

    return recorded()
