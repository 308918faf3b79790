"""One turn of a sandbox agent: the events an orq.ai task sends from the message that starts (or continues) it
to the moment it goes inactive, errors, or is still thinking when the stream times out.

Only the event types the official client knows are sent (docs/backends/orq.md). What an agent does follows from its
configuration, so an agent created through the API behaves by the same rules as the seeded ones:

* `function` tools in `settings.tools`: the first turn asks the caller to run each once (`inactive`,
  `finish_reason: "tool_calls"`, `pending_tool_calls`; a parameter's `default` is sent as its argument); the turn
  continued with a `role: "tool"` message answers with the results;
* a tool that `requires_approval` (or `tool_approval_required: "all"`): `action_review_requested`, then the turn waits
  until a person reviews it "in orq.ai's UI" (`POST /_sandbox/orq/reviews/{task_id}`); `action_reviewed` follows;
* `team_of_agents`: hands off to the first member (`handed_off`), whose tool fails once and then works;
* `variables.sandbox_script`: `execution_review` (the whole execution waits for a review), `slow` (thinks until the
  stream times out), `error` (`event.agents.errored`), `stream_error` (`agents.error`), `hangup` (echoes, but its
  streams close cleanly after two events without `data: [DONE]`, as a proxy that closes a connection early does;
  the turn goes on unseen);
* anything else echoes the message.

Every `inactive` event carries usage and billing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio

from .state import WORKSPACE, OrqState, TaskRecord
from .turn_base import TICK, TICK_SECONDS, TurnBase, event, message_text

__all__ = ["run_turn"]

REFUND_TICKS = 5


class _Turn(TurnBase):
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
        if self.script == "stream_error":
            task.active, task.errored = False, "The stream failed: the agent runtime is overloaded."
            yield event("agents.error", {"error": task.errored, "code": "overloaded"})
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
            yield self.client_tool_calls(functions)
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

    def client_tool_calls(self, tools: list[dict[str, Any]]) -> dict[str, Any]:
        """One call of each function tool: its first parameter is the message's text; a parameter with a `default`
        is sent as that default (e.g. a `schema` for the answer the caller is asked for)."""
        calls: list[dict[str, Any]] = []
        for tool in tools:
            function = (tool.get("configuration") or {}).get("function") or {}
            properties: dict[str, Any] = (function.get("parameters") or {}).get("properties") or {}
            first = next(iter(properties.keys()), "input")
            values: dict[str, Any] = {first: message_text(self.message) or "Amsterdam"}
            values.update({k: p["default"] for k, p in properties.items() if k != first and "default" in p})
            name = function.get("name") or tool.get("key")
            calls.append(
                {
                    "id": f"call_{self.s.new_id()[-8:].lower()}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(values)},
                }
            )
        self.task.pending_tool_calls = calls
        return self.thought(None, calls)

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
            for _ in range(REFUND_TICKS):  # the refund takes a moment: the review is behind the task, its end is not
                await anyio.sleep(TICK_SECONDS)
                yield TICK
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
