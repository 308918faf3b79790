"""Drives an orq.ai agents API with the official SDK, `orq-ai-sdk` 4.17.13, and prints what the SDK read as one JSON
document. Run by tests/real/test_official_orq.py with the SDK's own virtual environment; never imported by the suite.

Usage: `python drive_orq.py '<plan JSON>'`, the plan being `{"base_url", "api_key", "review_url", "flows": [{"name",
"flow", ...}]}`. Each flow's result is under its name; a flow the SDK cannot finish records the step it stopped at
(`failed`) and the exception (`error`); the other flows still run. The SDK validates every response and every
stream event against its own (strict) pydantic models: an event type it does not know, or a field missing, fails
the flow.

Flows:
- `crud`: create an agent, list every agent two at a time (`starting_after`) and back (`ending_before`), retrieve,
  update (with `version_increment`), delete, then retrieve it again (the SDK's 404 error).
- `invoke`: a blocking task of `agent`.
- `task`: a task of `agent` that does not block (no `configuration`), then its state read with
  `responses.get` until it is no longer in progress.
- `run`: a run (not streamed) with the agent's configuration inline, then its state read the same way.
- `stream`: a streamed task of `agent` read to its end; with `tool_result`, the task it leaves waiting for a client
  tool is continued with that result on a new stream (same `task_id`); with `review`, the review is decided (as a
  person would in orq.ai's UI) once the stream asked for it; `timeout` sets `stream_timeout_seconds`.
- `stream_run`: a streamed run with the agent's configuration inline.
- `responses`: a response created, then read back by its task id; with `stream`, the responses event stream.
- `external`: an external A2A agent registered, its card refreshed, the agents listed (with and without the
  `internal` filter) and the external agents listed, the agent read and deleted.
- `validate`: each of `events` (as a stream sends them) validated with the SDK's stream event model; the types
  that passed and the errors of those that did not.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import urllib.request
from typing import Any

from flow_steps import Stop, step
from orq_ai_sdk import Orq, models


def described(exc: BaseException) -> dict[str, Any]:
    return {"error": f"{type(exc).__name__}: {exc}"[:800], "where": traceback.format_exception(exc)[-2].strip()[:300]}


def review_later(url: str, decision: str) -> None:
    """What a person does in orq.ai's UI, from another thread (the SDK is busy reading the stream)."""

    def post() -> None:
        body = json.dumps({"review": decision}).encode()
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (loopback)
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 (a loopback sandbox)

    threading.Thread(target=post, daemon=True).start()


PLAN: dict[str, Any] = {}


def read(stream: Any, flow: dict[str, Any], task_hint: dict[str, Any], decision: str | None) -> list[dict[str, Any]]:
    """Every event of one stream, as the SDK's models read them (to the `[DONE]` sentinel)."""
    out: list[dict[str, Any]] = []
    with stream as events:
        for item in events:
            data = item.data
            event: dict[str, Any] = {"type": data.type, "model": type(data).__name__}
            payload = data.data
            if data.type == "agents.execution_started":
                task_hint["task_id"] = payload.agent_task_id
            if data.type == "event.agents.inactive":
                event["finish_reason"] = payload.finish_reason
                event["pending"] = [
                    {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                    for c in payload.pending_tool_calls or []
                ]
                event["usage"] = payload.usage.model_dump() if payload.usage else None
                event["billing"] = payload.billing.model_dump() if payload.billing else None
                event["last_message"] = payload.last_message
            if data.type in ("event.agents.action_review_requested", "event.agents.execution_review_required"):
                review_later(PLAN["review_url"].format(task_id=task_hint["task_id"]), decision or "approved")
            if data.type == "event.agents.action_reviewed":
                event["review"] = payload.review
            if data.type == "event.agents.handed_off":
                event["to"] = payload.agent_id
            out.append(event)
    return out


def crud(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    key = flow["key"]
    made = step(
        "create",
        orq.agents.create,
        key=key,
        role="Tester",
        description="Made by the official SDK",
        instructions="Answer briefly.",
        path="Default/agents",
        model="openai/gpt-4o-mini",
        settings={"max_iterations": 3, "tool_approval_required": "none"},
    )
    out["created"] = {"id": made.id, "key": made.key, "version": made.version}
    keys: list[str] = []
    page = step("list", orq.agents.list, limit=2)
    pages = [[a.key for a in page.data]]
    while page.has_more:
        page = step("list more", orq.agents.list, limit=2, starting_after=page.data[-1].id)
        pages.append([a.key for a in page.data])
    keys = [k for p in pages for k in p]
    out["listed"] = keys
    out["pages"] = len(pages)
    last_first = step("list before", orq.agents.list, limit=2, ending_before=page.data[0].id)
    out["before_last_page"] = [a.key for a in last_first.data]
    out["all_at_once"] = [a.key for a in step("list all", orq.agents.list).data]
    out["internal"] = len(step("list internal", orq.agents.list, limit=50, type_="internal").data)
    got = step("retrieve", orq.agents.retrieve, agent_key=key)
    out["retrieved"] = got.key
    changed = step(
        "update",
        orq.agents.update,
        agent_key=key,
        description="Changed by the SDK",
        version_increment="minor",
        version_description="a new description",
    )
    out["updated"] = {"description": changed.description, "version": changed.version}
    step("delete", orq.agents.delete, agent_key=key)
    try:
        orq.agents.retrieve(agent_key=key)
        out["after_delete"] = "still there"
    except models.RetrieveAgentRequestAgentsResponseBody as exc:
        out["after_delete"] = {"status": exc.raw_response.status_code, "message": exc.data.message}


def invoke(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    task = step(
        "invoke",
        orq.agents.invoke,
        key=flow["agent"],
        message={"role": "user", "parts": [{"kind": "text", "text": flow["text"]}]},
        configuration={"blocking": True},
    )
    out["task"] = {"id": task.id, "state": task.status.state, "kind": task.kind}
    message = task.status.message
    out["answer"] = [p.text for p in message.parts if p.kind == "text"] if message else []


def _until_done(orq: Orq, agent_key: str, task_id: str) -> Any:
    for _ in range(200):
        got = step("poll", orq.agents.responses.get, agent_key=agent_key, task_id=task_id)
        if got.status != "in_progress":
            return got
        time.sleep(0.05)
    raise Stop("poll", TimeoutError(f"task {task_id} still in progress"))


def _polled(got: Any) -> dict[str, Any]:
    texts = [p.text for m in got.output for p in m.parts if p.kind == "text"]
    return {"status": got.status, "output": texts, "usage": got.usage.model_dump() if got.usage else None}


def task(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    message = {"role": "user", "parts": [{"kind": "text", "text": flow["text"]}]}
    made = step("task", orq.agents.invoke, key=flow["agent"], message=message)
    out["task"] = {"state": made.status.state, "kind": made.kind}
    out["polled"] = _polled(_until_done(orq, flow["agent"], made.id))


def run(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    made = step(
        "run",
        orq.agents.run,
        key=flow["key"],
        model="openai/gpt-4o-mini",
        role="Inline",
        instructions="Echo.",
        path="Default/agents",
        settings={"max_iterations": 2},
        message={"role": "user", "parts": [{"kind": "text", "text": flow["text"]}]},
    )
    out["task"] = {"state": made.status.state, "kind": made.kind}
    out["polled"] = _polled(_until_done(orq, flow["key"], made.id))


def stream(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    hint: dict[str, Any] = {}
    extra = {"stream_timeout_seconds": flow["timeout"]} if flow.get("timeout") else {}
    first = step(
        "stream",
        read,
        orq.agents.stream(
            key=flow["agent"],
            message={"role": "user", "parts": [{"kind": "text", "text": flow["text"]}]},
            thread={"id": "thread_sdk"},
            memory={"entity_id": "user-1"},
            metadata={"trace_tag": "sdk"},
            variables={"name": "SDK"},
            identity={"id": "contact_1", "display_name": "SDK"},
            **extra,
        ),
        flow,
        hint,
        flow.get("review"),
    )
    out["events"] = first
    out["task_id"] = hint.get("task_id")
    if flow.get("tool_result") is None:
        return
    pending = next(e for e in first if e["type"] == "event.agents.inactive")["pending"]
    parts = [{"kind": "tool_result", "tool_call_id": c["id"], "result": flow["tool_result"]} for c in pending]
    out["continued"] = step(
        "continue",
        read,
        orq.agents.stream(key=flow["agent"], task_id=hint["task_id"], message={"role": "tool", "parts": parts}),
        flow,
        {},
        None,
    )


def stream_run(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    out["events"] = step(
        "stream_run",
        read,
        orq.agents.stream_run(
            key=flow["key"],
            model="openai/gpt-4o-mini",
            role="Inline",
            instructions="Echo.",
            path="Default/agents",
            settings={"max_iterations": 2},
            message={"role": "user", "parts": [{"kind": "text", "text": flow["text"]}]},
        ),
        flow,
        {},
        None,
    )


def responses(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    message = {"role": "user", "parts": [{"kind": "text", "text": flow["text"]}]}
    if flow.get("stream"):
        events = step(
            "create stream", orq.agents.responses.create, agent_key=flow["agent"], message=message, stream=True
        )
        seen: list[str] = []
        with events as items:
            for item in items:
                seen.append(item.data.type)
        out["types"] = seen
        return
    made = step("create", orq.agents.responses.create, agent_key=flow["agent"], message=message)
    out["created"] = {"task_id": made.task_id, "finish_reason": made.finish_reason, "usage": bool(made.usage)}
    got = step("get", orq.agents.responses.get, agent_key=flow["agent"], task_id=made.task_id)
    out["got"] = {"status": got.status, "output": [p.text for m in got.output for p in m.parts if p.kind == "text"]}


def external(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    made = step(
        "register",
        orq.agents.external.create,
        key=flow["key"],
        display_name="External helper",
        path="Default/agents",
        agent_url="https://agents.example.com/a2a",
    )
    out["registered"] = made.agent.key if made.agent else None
    fresh = step(
        "refresh", orq.agents.external.refresh_card, agent_key=flow["key"], refresh_external_agent_card_request={}
    )
    out["refreshed"] = bool(fresh.agent and fresh.agent.card_refreshed_at)
    out["listed"] = {a.key: a.type for a in step("list", orq.agents.list).data if a.key == flow["key"]}
    out["internal"] = [
        a.key for a in step("list internal", orq.agents.list, type_="internal").data if a.type != "internal"
    ]
    out["externals"] = [a.key for a in step("list external", orq.agents.external.list).data]
    got = step("get", orq.agents.external.retrieve, agent_key=flow["key"])
    out["got"] = got.agent.agent_url if got.agent else None
    step("delete", orq.agents.external.delete, agent_key=flow["key"])
    out["after_delete"] = [a.key for a in step("list again", orq.agents.external.list).data]


def validate(orq: Orq, flow: dict[str, Any], out: dict[str, Any]) -> None:
    del orq
    passed: list[str] = []
    errors: list[str] = []
    for event in flow["events"]:
        try:
            models.StreamAgentResponseBody.model_validate({"data": event})
            passed.append(event["type"])
        except Exception as exc:  # a pydantic ValidationError: recorded, so the test shows which event failed
            errors.append(f"{event.get('type')}: {exc}"[:400])
    out.update(passed=passed, errors=errors)


FLOWS = {
    "crud": crud,
    "invoke": invoke,
    "task": task,
    "run": run,
    "stream": stream,
    "stream_run": stream_run,
    "responses": responses,
    "external": external,
    "validate": validate,
}


def main() -> None:
    plan = json.loads(sys.argv[1])
    PLAN.update(plan)
    results: dict[str, Any] = {}
    with Orq(api_key=plan["api_key"], server_url=plan["base_url"]) as orq:
        for flow in plan["flows"]:
            out: dict[str, Any] = {}
            try:
                FLOWS[flow["flow"]](orq, flow, out)
            except Stop as stop:
                out.update(failed=stop.step, **described(stop.exc))
            except Exception as exc:  # the driver itself: recorded, so the test says where
                out.update(failed="driver", **described(exc))
            results[flow["name"]] = out
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
