"""orq.ai wire shapes ↔ runbridge's types: agents, A2A messages, call bodies, usage (docs/backends/orq.md).

Nothing here sends a request; the adapter does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from ...core.agents import Agent
from ...core.errors import InputError
from ...core.models import Target, Usage

__all__ = [
    "CALL_OPTIONS",
    "as_dict",
    "call_body",
    "json_or_text",
    "task_of",
    "to_agent",
    "to_target",
    "tool_message",
    "usage_of",
    "user_message",
]

CALL_OPTIONS = frozenset(
    {
        "task_id",
        "identity",
        "thread",
        "memory",
        "metadata",
        "variables",
        "engine",
        "stream_timeout_seconds",
        "files",
        "agent",
    }
)
"""What `agents_call`'s `options` may hold for an orq.ai agent (`agent`: the inline configuration of `run`)."""


def task_of(run_id: str) -> str:
    """The orq.ai task a run is part of: a run is the task itself, or (`<task_id>~<n>`) a later turn of it started
    with `options.task_id`, which runbridge follows as a run of its own."""
    return run_id.split("~", 1)[0]


def as_dict(value: object) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def to_agent(doc: Mapping[str, Any]) -> Agent:
    """An orq.ai agent as runbridge's `Agent`: `id` is its key (what every agent endpoint takes)."""
    settings = as_dict(doc.get("settings"))
    model = doc.get("model")
    model_id = _str(as_dict(model).get("id")) or _str(model)
    tools = [as_dict(t) for t in settings.get("tools") or [] if isinstance(t, dict)]
    details: dict[str, Any] = {
        "agent_id": doc.get("_id"),
        "path": doc.get("path"),
        "role": doc.get("role"),
        "model": model_id,
        "status": doc.get("status"),
        "type": doc.get("type"),
        "tool_approval_required": settings.get("tool_approval_required"),
        "tools": [
            {
                "key": t.get("key"),
                "type": t.get("action_type") or t.get("type"),
                "requires_approval": bool(t.get("requires_approval")),
            }
            for t in tools
        ],
        "team_of_agents": [as_dict(m).get("key") for m in doc.get("team_of_agents") or []],
        "updated": doc.get("updated"),
        "version_description": doc.get("version_description"),
        "endpoints": ["stream-task", "task", "responses", "stream-run", "run"],
        "deprecated": "orq.ai marks every one of these endpoints deprecated; runbridge moves to their successor "
        "(POST /v3/router/responses) behind the same tools once it documents how a task continues there",
    }
    return Agent(
        id=str(doc.get("key") or doc.get("_id") or ""),
        name=str(doc.get("display_name") or doc.get("key") or ""),
        description=_str(doc.get("description")),
        version=_str(doc.get("version")),
        tags=[],
        visibility=None,
        input_schema=None,
        details={k: v for k, v in details.items() if v not in (None, [], "")},
    )


def to_target(doc: Mapping[str, Any]) -> Target:
    agent = to_agent(doc)
    return Target(
        id=agent.id,
        name=agent.name,
        kind="agent",
        description=agent.description,
        input_schema={
            "type": "object",
            "properties": {"message": {"type": "string", "description": "What to ask the agent."}},
        },
        details=agent.details,
    )


def _file_part(raw: object) -> dict[str, Any]:
    spec = as_dict(raw)
    file: dict[str, Any] = {}
    if _str(spec.get("uri")):
        file["uri"] = spec["uri"]
    elif _str(spec.get("bytes")):
        file["bytes"] = spec["bytes"]
    else:
        raise InputError("Each of options.files needs `uri` (a web address) or `bytes` (base64).")
    for ours, theirs in (("mime_type", "mimeType"), ("mimeType", "mimeType"), ("name", "name")):
        if _str(spec.get(ours)):
            file[theirs] = spec[ours]
    return {"kind": "file", "file": file}


def user_message(text: str | None, files: object = None) -> dict[str, Any]:
    """An A2A user message: the text, then any files (`[{uri | bytes, mime_type?, name?}]`)."""
    parts: list[dict[str, Any]] = [{"kind": "text", "text": text}] if text else []
    if files is not None:
        if not isinstance(files, list):
            raise InputError("options.files must be a list of {uri | bytes, mime_type?, name?}.")
        parts += [_file_part(f) for f in cast(list[object], files)]
    if not parts:
        raise InputError("An orq.ai agent is called with a message: pass `message` (or options.files).")
    return {"role": "user", "parts": parts}


def tool_message(results: Mapping[str, Any]) -> dict[str, Any]:
    """The `role: "tool"` message that returns client tool results: call id → result."""
    return {
        "role": "tool",
        "parts": [{"kind": "tool_result", "tool_call_id": call, "result": value} for call, value in results.items()],
    }


def call_body(
    message: dict[str, Any],
    options: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any],
    stream_timeout: int | None,
    streamed: bool,
) -> dict[str, Any]:
    """The body of a task, stream-task or responses call: the message and the pass-through options."""
    unknown = sorted(set(options) - CALL_OPTIONS)
    if unknown:
        raise InputError(
            f"orq.ai does not take the option(s) {', '.join(unknown)}; it takes {', '.join(sorted(CALL_OPTIONS))}."
        )
    body: dict[str, Any] = {"message": message}
    for key in ("identity", "thread", "memory", "metadata", "variables"):
        value = options.get(key, defaults.get(key))
        if value is not None:
            if not isinstance(value, dict):
                raise InputError(f"options.{key} must be an object.")
            body[key] = value
    for key in ("task_id", "engine"):
        if options.get(key) is not None:
            body[key] = str(options[key])
    timeout = options.get("stream_timeout_seconds", stream_timeout)
    if timeout is not None and streamed:
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 3600:
            raise InputError("options.stream_timeout_seconds must be a whole number of seconds from 1 to 3600.")
        body["stream_timeout_seconds"] = timeout
    return body


def usage_of(usage: object, billing: object = None) -> Usage | None:
    """Tokens from `usage` (`prompt_tokens`, `completion_tokens`, `total_tokens`), cost from `billing.total_cost`."""
    u, b = as_dict(usage), as_dict(billing)

    def count(*keys: str) -> int:
        for key in keys:
            value = u.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return int(value)
        return 0

    inputs, outputs = count("prompt_tokens", "promptTokens"), count("completion_tokens", "completionTokens")
    total = count("total_tokens", "totalTokens") or inputs + outputs
    cost = b.get("total_cost")
    if not (inputs or outputs or total) and not isinstance(cost, int | float):
        return None
    return Usage(
        input_tokens=inputs,
        output_tokens=outputs,
        total_tokens=total,
        cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
        turns=1,
    )


def json_or_text(raw: object) -> Any:
    """A JSON string decoded where it can be (a tool call's `arguments` on the wire, a person's tool result);
    anything else as it is."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw
