"""The orq.ai execution routes: tasks (blocking or not), streamed tasks, inline-configured runs, and responses.

* `POST /v2/agents/{key}/task` → an A2A task (`configuration.blocking`: wait for the turn to end);
  `POST /v2/agents/run` the same, never blocking, with the agent's configuration inline (the agent is created, or
  its version reused): it takes the fields of a configuration and of a call, and no others (no `configuration`).
* `POST /v2/agents/{key}/stream-task`, `POST /v2/agents/stream-run` → `text/event-stream`: one `data:` line per
  event (`{"type", "timestamp", "data"}`), `: keep-alive` comments while the agent waits, `data: [DONE]` at the end;
  `agents.timeout` when `stream_timeout_seconds` (1..3600, default 1800) pass first.
* `POST /v2/agents/{key}/responses` → the response JSON, or its own event stream with `"stream": true`;
  `GET /v2/agents/{key}/responses/{task_id}` → the task as a response (`in_progress` | `completed` | `failed`),
  with the `usage` of its last turn (tokens; this answer has no billing).

`task_id` continues an inactive task of the same agent (404 when there is none, 409 while it is active); a
`role: "tool"` message may only hold `tool_result` and `error` parts.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import SandboxContext
from ..sse import DROP, Drop, EventStreamResponse
from .routes import REQUIRED, error, read_json
from .state import OrqState, TaskRecord, agent_doc, now_iso
from .turn_base import TICK
from .turns import run_turn

__all__ = ["Execution"]

DONE = b"data: [DONE]\n\n"
_RUN_FIELDS = frozenset(
    {
        *("key", "model", "role", "instructions", "message", "path", "settings", "task_id", "fallback_models"),
        *("variables", "identity", "contact", "thread", "memory", "description", "system_prompt", "memory_stores"),
        *("knowledge_bases", "team_of_agents", "metadata", "engine"),
    }
)
"""What `POST /v2/agents/run` takes (`stream-run`: these and `stream_timeout_seconds`)."""
_CONTEXT = ("identity", "contact", "thread", "memory", "metadata", "variables", "engine", "stream_timeout_seconds")
KEEPALIVE = b": keep-alive\n\n"


def frame(doc: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(doc, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


def _check_message(message: Any) -> str | None:
    if not isinstance(message, dict) or not isinstance(message.get("parts"), list) or not message["parts"]:
        return "message must be an A2A message with parts"
    role = message.get("role")
    if role not in ("user", "tool"):
        return "message.role must be user or tool"
    kinds = {p.get("kind") for p in message["parts"] if isinstance(p, dict)}
    allowed = {"tool_result", "error"} if role == "tool" else {"text", "file"}
    if not kinds or not kinds <= allowed:
        return f"A {role} message may only hold {' and '.join(sorted(allowed))} parts"
    return None


def _state(task: TaskRecord) -> str:
    if task.errored:
        return "failed"
    if task.active:
        return "working"
    return "input-required" if task.pending_tool_calls else "completed"


class Execution:
    def __init__(self, state: OrqState, ctx: SandboxContext) -> None:
        self.s = state
        self.ctx = ctx

    async def _begin(
        self, request: Request, *, inline: bool, streamed: bool = False
    ) -> tuple[TaskRecord, dict[str, Any], dict[str, Any]] | Response:
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        if inline:
            missing = [k for k in REQUIRED if k not in body and k != "description"]
            if missing:
                return error(400, f"Missing required fields: {', '.join(missing)}")
            unknown = sorted(set(body) - _RUN_FIELDS - ({"stream_timeout_seconds"} if streamed else set()))
            if unknown:
                return error(400, f"Unknown fields: {', '.join(unknown)}")
            agent = self._inline_agent(body)
        else:
            agent = self.s.agents.get(request.path_params["key"])
            if agent is None:
                return error(404, "Agent not found")
        problem = _check_message(body.get("message"))
        timeout = body.get("stream_timeout_seconds", 1800)
        if problem is None and (not isinstance(timeout, int | float) or not 1 <= timeout <= 3600):
            problem = "stream_timeout_seconds must be between 1 and 3600"
        if problem:
            return error(400, problem)
        task_id = body.get("task_id")
        if task_id:
            task = self.s.tasks.get(str(task_id))
            if task is None or task.agent_key != agent["key"]:
                return error(404, "Task not found")
            if task.active:
                return error(409, "The task is still active: it can be continued once it is inactive")
            if task.errored:
                return error(409, "The task failed and cannot be continued")
        else:
            if body["message"].get("role") == "tool":
                return error(400, "Tool results continue a task: pass its task_id")
            task = self.s.new_task(agent["key"])
        # What the call carried besides its message, as orq.ai keeps it with the task (the last call's).
        task.context = {k: body[k] for k in _CONTEXT if k in body}
        return task, agent, body

    def _inline_agent(self, body: dict[str, Any]) -> dict[str, Any]:
        """The agent a run's inline configuration describes: created, or its version reused when unchanged."""
        config = {k: v for k, v in body.items() if k not in ("message", "task_id", "stream_timeout_seconds")}
        existing = self.s.agents.get(config["key"])
        if existing is None:
            doc = agent_doc(self.s.new_id(), config, created=now_iso())
        else:
            doc = agent_doc(
                existing["_id"], {**existing, **config}, created=existing["created"], version=existing["version"]
            )
            if {k: doc[k] for k in REQUIRED} != {k: existing[k] for k in REQUIRED}:
                doc["version"] = f"{existing['version']}+1"
        self.s.agents[doc["key"]] = doc
        return doc

    def _a2a_task(self, task: TaskRecord) -> dict[str, Any]:
        status: dict[str, Any] = {"state": _state(task), "timestamp": now_iso()}
        if not task.active and task.messages and task.messages[-1]["role"] == "agent":
            status["message"] = task.messages[-1]
        return {
            "id": task.id,
            "contextId": task.context_id,
            "kind": "task",
            "status": status,
            "messages": task.messages,
            "metadata": {"orq_agent_key": task.agent_key},
        }

    # -- tasks --------------------------------------------------------------------------------------------------

    async def task(self, request: Request) -> Response:
        return await self._invoke(request, inline=False)

    async def run(self, request: Request) -> Response:
        return await self._invoke(request, inline=True)

    async def _invoke(self, request: Request, *, inline: bool) -> Response:
        begun = await self._begin(request, inline=inline)
        if isinstance(begun, Response):
            return begun
        task, agent, body = begun
        turn = run_turn(self.s, task, agent, body["message"])
        configuration = body.get("configuration")
        if isinstance(configuration, dict) and configuration.get("blocking"):
            async for _ in turn:
                pass
            return JSONResponse(self._a2a_task(task))
        task.active = True
        doc = self._a2a_task(task)
        doc["status"]["state"] = "submitted"

        async def drain() -> None:
            async for _ in turn:
                pass

        return JSONResponse(doc, background=BackgroundTask(drain))

    async def stream_task(self, request: Request) -> Response:
        return await self._stream(request, inline=False)

    async def stream_run(self, request: Request) -> Response:
        return await self._stream(request, inline=True)

    async def _stream(self, request: Request, *, inline: bool) -> Response:
        begun = await self._begin(request, inline=inline, streamed=True)
        if isinstance(begun, Response):
            return begun
        task, agent, body = begun
        task.active = True
        turn = run_turn(self.s, task, agent, body["message"])
        timeout = float(body.get("stream_timeout_seconds", 1800))
        drop_after = self.ctx.faults.stream_state(task.id).next_drop()
        hangup = (agent.get("variables") or {}).get("sandbox_script") == "hangup"
        frames = self._frames(
            turn, timeout, _agent_frames, record=task.events, drop_after=drop_after, hangup_after=2 if hangup else None
        )
        return EventStreamResponse(
            frames, closing=self.ctx.closing, on_drop=lambda: self.ctx.stats.incr("stream_drops")
        )

    def _keepalive_seconds(self) -> float:
        return self.ctx.keepalive_seconds if self.ctx.keepalive_seconds is not None else 15.0

    async def _frames(
        self,
        turn: AsyncIterator[dict[str, Any]],
        limit: float,
        encode: Any,
        *,
        record: list[dict[str, Any]] | None = None,
        drop_after: int | None = None,
        hangup_after: int | None = None,
    ) -> AsyncGenerator[bytes | Drop, None]:
        """The turn's events as frames; `record` (the task's events): an agents stream, which times out.
        `drop_after` events, the connection is cut (a fault): the task goes on to the end of its turn unseen.
        `hangup_after` events, the stream closes cleanly but without `data: [DONE]`; the turn goes on unseen."""
        deadline, last = time.monotonic() + limit, time.monotonic()
        sent = 0
        try:
            async for item in turn:
                if hangup_after is not None and sent >= hangup_after and item is not TICK:
                    with anyio.move_on_after(5):
                        async for _ in turn:
                            pass
                    return
                if drop_after is not None and sent >= drop_after and item is not TICK:
                    with anyio.move_on_after(5):  # the rest of the turn happens on the server, unseen
                        async for _ in turn:
                            pass
                    yield DROP
                    return
                if item is not TICK:
                    sent += 1
                now = time.monotonic()
                if now >= deadline and record is not None:
                    message = f"The stream timed out after {limit:g} s; the task goes on."
                    timed_out = {"type": "agents.timeout", "timestamp": now_iso(), "data": {"message": message}}
                    record.append(timed_out)
                    yield frame(timed_out)
                    break
                if item is TICK:
                    if now - last >= self._keepalive_seconds():
                        last = now
                        yield KEEPALIVE
                    continue
                last = now
                for chunk in encode(item):
                    yield chunk
        finally:
            await turn.aclose()  # type: ignore[attr-defined]
        yield DONE

    # -- responses ----------------------------------------------------------------------------------------------

    async def create_response(self, request: Request) -> Response:
        begun = await self._begin(request, inline=False)
        if isinstance(begun, Response):
            return begun
        task, agent, body = begun
        task.active = True
        turn = run_turn(self.s, task, agent, body["message"])
        if body.get("stream"):
            started = {
                "responseId": task.id,
                "taskId": task.id,
                "model": agent["model"]["id"],
                "workflowRunId": task.workflow_run_id,
            }
            first = frame({"type": "response.started", "timestamp": now_iso(), "data": started})

            async def frames() -> AsyncGenerator[bytes | Drop, None]:
                yield first
                async for chunk in self._frames(turn, 3600, _response_frames):
                    yield chunk

            return EventStreamResponse(frames(), closing=self.ctx.closing)
        async for _ in turn:
            pass
        doc = self._response(task, agent)
        doc.pop("status")
        doc.pop("error", None)
        return JSONResponse(doc)

    def _response(self, task: TaskRecord, agent: dict[str, Any]) -> dict[str, Any]:
        output = [m for m in task.messages if m["role"] == "agent"][-1:]
        doc: dict[str, Any] = {
            "_id": task.id,
            "task_id": task.id,
            "created_at": task.created_at,
            "model": agent["model"]["id"],
            "output": [{"messageId": m["messageId"], "role": "agent", "parts": m["parts"]} for m in output],
            "status": "failed" if task.errored else "in_progress" if task.active else "completed",
        }
        if task.finish_reason and not task.active:
            doc["finish_reason"] = task.finish_reason
        if task.pending_tool_calls:
            doc["pending_tool_calls"] = task.pending_tool_calls
        if task.last_usage is not None and not task.active:
            doc["usage"] = task.last_usage  # tokens only: this answer has no billing
        if task.errored:
            doc["error"] = task.errored
        return doc

    async def get_response(self, request: Request) -> Response:
        agent = self.s.agents.get(request.path_params["key"])
        task = self.s.tasks.get(request.path_params["task_id"])
        if agent is None or task is None or task.agent_key != agent["key"]:
            return error(404, "Response not found")
        return JSONResponse(self._response(task, agent))


def _agent_frames(item: dict[str, Any]) -> list[bytes]:
    return [frame(item)]


def _response_frames(item: dict[str, Any]) -> list[bytes]:
    return [frame(e) for e in _as_response_events(item)]


def _as_response_events(item: dict[str, Any]) -> list[dict[str, Any]]:
    """One agents event as the events of the responses stream (most have no counterpart there)."""
    type_, data, ts = item["type"], item["data"], item["timestamp"]

    def ev(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "timestamp": ts, "data": payload}

    if type_ == "event.workflow_events.tool_execution_started":
        call = data["tool_execution_context"]["agent_tool_call_id"]
        return [
            ev(
                "tool.started",
                {
                    "toolId": data["tool_id"],
                    "toolCallId": call,
                    "arguments": data["tool_arguments"],
                    "toolName": data.get("tool_key"),
                },
            )
        ]
    if type_ == "event.workflow_events.tool_execution_finished":
        call = data["tool_execution_context"]["agent_tool_call_id"]
        return [ev("tool.done", {"toolId": f"act_{call}", "toolCallId": call, "result": data.get("result")})]
    if type_ == "event.workflow_events.tool_execution_failed":
        call = data["tool_execution_context"]["agent_tool_call_id"]
        return [ev("tool.failed", {"toolId": f"act_{call}", "toolCallId": call, "error": data["error"]["message"]})]
    if type_ == "event.agents.action_review_requested":
        tool = data["tool"]
        return [
            ev(
                "tool.review.requested",
                {
                    "toolId": tool["id"],
                    "toolCallId": data["agent_tool_call_id"],
                    "arguments": data["input"],
                    "requiresApproval": True,
                    "toolName": tool.get("key"),
                },
            )
        ]
    if type_ == "event.agents.action_reviewed":
        return [
            ev(
                "tool.review.done",
                {"toolId": data["action_id"], "toolCallId": data["agent_tool_call_id"], "review": data["review"]},
            )
        ]
    if type_ == "event.agents.thought":
        out: list[dict[str, Any]] = []
        for message in data["message_difference"].values():
            for part in message["parts"]:
                if part["kind"] == "text":
                    part_id = message["messageId"]
                    out.append(ev("part.delta", {"partId": part_id, "delta": {"kind": "text", "text": part["text"]}}))
                    out.append(ev("part.done", {"partId": part_id, "part": {"kind": "text", "text": part["text"]}}))
        return out
    if type_ == "event.agents.inactive":
        done: dict[str, Any] = {"finishReason": data["finish_reason"], "usage": data.get("usage")}
        if data.get("pending_tool_calls"):
            done["pendingToolCalls"] = data["pending_tool_calls"]
        return [ev("response.done", done)]
    if type_ == "event.agents.errored":
        return [ev("response.failed", {"error": data["error"], "code": data["code"]})]
    return []
