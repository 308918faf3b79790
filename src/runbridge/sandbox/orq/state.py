"""What the orq.ai handlers of one app share: the workspace's agents, external A2A agents and tasks.

Everything here lives on the sandbox server's loop; handlers mutate it between awaits only. Ids are ULID-shaped
(26 characters, increasing), so list order by id is creation order, as on orq.ai.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

__all__ = ["SEED_AGENTS", "OrqState", "TaskRecord", "agent_doc", "now_iso"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
WORKSPACE = "ws_sandbox"
PROJECT = "prj_sandbox"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "retry": {"count": 3, "on_codes": [429, 500, 502, 503, 504]}}


def _seed(key: str, role: str, description: str, **extra: Any) -> dict[str, Any]:
    settings = {"max_iterations": 10, "max_execution_time": 600, "tool_approval_required": "respect_tool", "tools": []}
    settings.update(extra.pop("settings", {}))
    return {
        "key": key,
        "display_name": extra.pop("display_name", key.replace("-", " ").title()),
        "role": role,
        "description": description,
        "instructions": extra.pop("instructions", f"You are the {role}."),
        "path": "Default/agents",
        "model": "openai/gpt-4o-mini",
        "settings": settings,
        **extra,
    }


CUSTOMER_ANSWER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "title": "Customer email"},
        "callback": {"type": "boolean", "description": "Whether the customer wants a call back."},
    },
    "required": ["email"],
}
"""The schema `intake-agent`'s `ask_customer` call carries in its arguments."""


def _function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    first = next(iter(properties))
    return {
        "type": "function",
        "key": name,
        "requires_approval": False,
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": [first]},
        },
    }


SEED_AGENTS: list[dict[str, Any]] = [
    _seed("echo-agent", "Echo assistant", "Answers with what it was told."),
    _seed(
        "weather-agent",
        "Weather assistant",
        "Asks the caller to run its get_weather function, then answers with the result.",
        settings={
            "tools": [
                {
                    "type": "function",
                    "key": "get_weather",
                    "display_name": "Get weather",
                    "requires_approval": False,
                    "function": {
                        "name": "get_weather",
                        "description": "The current weather in a city.",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string", "description": "The city."}},
                            "required": ["city"],
                        },
                    },
                }
            ]
        },
    ),
    _seed(
        "intake-agent",
        "Order intake assistant",
        "Asks the caller to look an order up and to ask the customer a question whose answer follows a schema.",
        settings={
            "tools": [
                _function("lookup_order", "The order's status.", {"order_id": {"type": "string"}}),
                _function(
                    "ask_customer",
                    "Asks the customer; the answer follows `schema`.",
                    {
                        "question": {"type": "string"},
                        "schema": {"type": "object", "default": CUSTOMER_ANSWER},
                    },
                ),
            ]
        },
    ),
    _seed(
        "payments-agent",
        "Payments assistant",
        "Issues refunds; every refund waits for a person's review in orq.ai.",
        settings={
            "tools": [
                {"type": "http", "key": "issue_refund", "display_name": "Issue refund", "requires_approval": True}
            ]
        },
    ),
    _seed(
        "release-agent",
        "Release manager",
        "Publishes release notes once a person has reviewed the whole execution.",
        variables={"sandbox_script": "execution_review"},
    ),
    _seed(
        "triage-lead",
        "Support triage lead",
        "Hands billing questions off to its team member billing-specialist.",
        team_of_agents=[{"key": "billing-specialist", "role": "Billing questions"}],
    ),
    _seed("billing-specialist", "Billing specialist", "Answers billing questions (a team member of triage-lead)."),
    _seed(
        "slow-agent",
        "Deep researcher",
        "Thinks for longer than any stream waits: its stream times out.",
        variables={"sandbox_script": "slow"},
    ),
    _seed("broken-agent", "Broken assistant", "Fails with an execution error.", variables={"sandbox_script": "error"}),
    _seed(
        "overloaded-agent",
        "Overloaded assistant",
        "Its stream fails with a stream-level error.",
        variables={"sandbox_script": "stream_error"},
    ),
]
"""The agents a new sandbox starts with: one per behaviour the scripted turns know (docs/backends/orq.md)."""


def agent_doc(agent_id: str, body: dict[str, Any], *, created: str, version: str = "v1.0.0") -> dict[str, Any]:
    """An agent as orq.ai returns it, from a create (or run) body."""
    model = body.get("model")
    settings = dict(body.get("settings") or {})
    settings.setdefault("max_iterations", 100)
    settings.setdefault("max_execution_time", 600)
    settings.setdefault("tool_approval_required", "respect_tool")
    settings["tools"] = [_tool(t) for t in settings.get("tools") or [] if isinstance(t, dict)]
    doc: dict[str, Any] = {
        "_id": agent_id,
        "key": body["key"],
        "display_name": body.get("display_name") or body["key"],
        "project_id": body.get("project_id") or PROJECT,
        "status": "live",
        "path": body["path"],
        "role": body["role"],
        "description": body.get("description") or "",
        "instructions": body["instructions"],
        "system_prompt": body.get("system_prompt"),
        "model": _model(model) if isinstance(model, str) else dict(model or _model("openai/gpt-4o-mini")),
        "settings": settings,
        "knowledge_bases": list(body.get("knowledge_bases") or []),
        "memory_stores": list(body.get("memory_stores") or []),
        "team_of_agents": list(body.get("team_of_agents") or []),
        "variables": dict(body.get("variables") or {}),
        "engine": body.get("engine") or "text",
        "type": "internal",
        "source": "internal",
        "version": version,
        "created": created,
        "updated": created,
    }
    return doc


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool as orq.ai returns it (`{id, action_type, key, ...}`) from a tool as created (`{type, key, ...}`); a
    function's declaration is kept in `configuration.function`."""
    if "action_type" in tool:
        return tool
    key = str(tool.get("key") or (tool.get("function") or {}).get("name") or tool.get("type") or "tool")
    out: dict[str, Any] = {
        "id": str(tool.get("id") or f"tool_{key}"),
        "action_type": str(tool.get("type") or "function"),
        "key": key,
        "display_name": tool.get("display_name") or key,
        "requires_approval": bool(tool.get("requires_approval", False)),
    }
    if tool.get("description"):
        out["description"] = tool["description"]
    if isinstance(tool.get("function"), dict):
        out["configuration"] = {"function": tool["function"]}
    return out


@dataclass
class TaskRecord:
    """One task (an agent execution): its messages, whether it is active, what it waits for, and what it cost."""

    id: str
    agent_key: str
    context_id: str
    workflow_run_id: str
    created_at: str
    trace_id: str
    messages: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    active: bool = False
    errored: str | None = None
    finish_reason: str | None = None
    pending_tool_calls: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    last_message: str = ""
    turns: int = 0
    named: bool = False
    usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0})
    last_usage: dict[str, int] | None = None  # the usage of the turn that ended last (`GET .../responses/{id}`)
    events: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    review: anyio.Event = field(default_factory=anyio.Event)
    decision: str | None = None  # a person's review in "orq.ai's UI" (the sandbox admin route)
    awaiting_review: str | None = None  # "action" or "execution" while it waits for one
    context: dict[str, Any] = field(default_factory=dict[str, Any])  # identity, thread, memory, ... of the last call


class OrqState:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._counter = itertools.count(1)
        self.agents: dict[str, dict[str, Any]] = {}  # key -> agent doc, in creation order
        self.external: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, TaskRecord] = {}
        created = now_iso()
        for body in SEED_AGENTS:
            self.agents[body["key"]] = agent_doc(self.new_id(), body, created=created)

    def new_id(self) -> str:
        """A ULID-shaped id: 10 time characters, then a counter, so ids sort in creation order."""
        stamp, n = int(time.time() * 1000), next(self._counter)
        head = "".join(_CROCKFORD[(stamp >> (5 * i)) & 31] for i in reversed(range(10)))
        tail = "".join(_CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(16)))
        return head + tail

    def new_task(self, agent_key: str) -> TaskRecord:
        task_id = self.new_id()
        task = TaskRecord(
            id=task_id,
            agent_key=agent_key,
            context_id=f"ctx_{task_id.lower()}",
            workflow_run_id=f"wr_{task_id.lower()}",
            created_at=now_iso(),
            trace_id=f"tr_{task_id.lower()}",
        )
        self.tasks[task_id] = task
        return task

    def agents_by_id(self) -> list[dict[str, Any]]:
        """Every agent, newest first (orq.ai lists newest first)."""
        return sorted(self.agents.values(), key=lambda a: a["_id"], reverse=True)
