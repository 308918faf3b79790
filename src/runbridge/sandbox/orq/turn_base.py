"""What every turn of a sandbox agent is made of: the event envelope, thoughts, the inactive event with usage
and billing, naming, and waiting for a review (see `turns.py`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio

from .state import WORKSPACE, OrqState, TaskRecord, now_iso

__all__ = ["TICK", "TICK_SECONDS", "TurnBase", "event", "message_text"]

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


class TurnBase:
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
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        task.last_usage = usage
        data: dict[str, Any] = {
            "last_message": text,
            "finish_reason": finish_reason,
            "workflowRunId": task.workflow_run_id,
            "last_message_full": {"role": "agent", "parts": [{"kind": "text", "text": text}]},
            "usage": usage,
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

    def named(self) -> dict[str, Any]:
        self.task.named = True
        title = message_text(self.message)[:40] or self.agent["key"]
        return event("event.agents.execution_named", {"name": title, "agent_manifest_id": self.agent["_id"]})

    def needs_review(self, tool: dict[str, Any]) -> bool:
        rule = self.settings.get("tool_approval_required", "respect_tool")
        return rule == "all" or (rule == "respect_tool" and bool(tool.get("requires_approval")))

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
