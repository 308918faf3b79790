"""The orq.ai sandbox against docs/backends/orq.md: the list shape and its cursors, 201 creates, 204 deletes, 404 and
401 `{"message"}`, streams of `data:` lines only ending on `data: [DONE]`, keep-alives while a review waits, a task
continued only while inactive, usage and billing on every inactive event. (The official client judges the same
sandbox in tests/real/test_official_orq.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from sandbox_wire import Frame, client_for, frames, post_stream

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

TYPES = {
    "agents.execution_started",
    "event.agents.started",
    "event.agents.thought",
    "event.agents.message-created",
    "event.workflow_events.tool_execution_started",
    "event.workflow_events.tool_execution_finished",
    "event.workflow_events.tool_execution_failed",
    "event.agents.action_review_requested",
    "event.agents.action_reviewed",
    "event.agents.execution_review_required",
    "event.agents.execution_reviewed",
    "event.agents.execution_named",
    "event.agents.handed_off",
    "event.agents.inactive",
    "event.agents.errored",
    "agents.timeout",
    "agents.error",
}


@pytest.fixture
def orq(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(family="orq")


def _message(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"kind": "text", "text": text}]}


def _events(got: list[Frame]) -> list[dict[str, Any]]:
    return [f.json() for f in got if f.comment is None and f.data != "[DONE]"]


async def test_crud_status_codes_and_the_list_shape(orq: SandboxServer) -> None:
    key = f"wire-{uuid.uuid4().hex[:6]}"
    body = {
        "key": key,
        "role": "r",
        "description": "d",
        "instructions": "i",
        "path": "Default/agents",
        "model": "openai/gpt-4o-mini",
        "settings": {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
    }
    async with client_for(orq) as client:
        made = await client.post("/v2/agents", json=body)
        again = await client.post("/v2/agents", json=body)
        missing = await client.post("/v2/agents", json={"key": "x"})
        first = (await client.get("/v2/agents", params={"limit": 2})).json()
        after = (await client.get("/v2/agents", params={"limit": 2, "starting_after": first["data"][-1]["_id"]})).json()
        before = (await client.get("/v2/agents", params={"limit": 2, "ending_before": after["data"][0]["_id"]})).json()
        everything = (await client.get("/v2/agents")).json()
        deleted = await client.delete(f"/v2/agents/{key}")
        gone = await client.get(f"/v2/agents/{key}")
    async with httpx2.AsyncClient(base_url=orq.base_url) as stranger:
        anonymous = await stranger.get("/v2/agents")
    assert made.status_code == 201
    assert made.json()["settings"]["tools"][0] == {
        "id": "tool_f",
        "action_type": "function",
        "key": "f",
        "display_name": "f",
        "requires_approval": False,
        "configuration": {"function": {"name": "f", "parameters": {}}},
    }
    assert again.status_code == 409
    assert missing.status_code == 400
    assert set(first) == {"object", "data", "has_more"}
    assert first["object"] == "list"
    assert first["has_more"] is True
    assert first["data"][0]["key"] == key  # newest first
    assert [a["_id"] for a in before["data"]] == [a["_id"] for a in first["data"]]
    assert [a["_id"] for a in everything["data"]][:4] == [a["_id"] for a in first["data"] + after["data"]]
    assert everything["has_more"] is False
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert gone.status_code == 404
    assert gone.json() == {"message": "Agent not found"}
    assert anonymous.status_code == 401
    assert "message" in anonymous.json()


async def test_a_stream_is_data_lines_only_and_ends_on_done(orq: SandboxServer) -> None:
    async with client_for(orq) as client:
        got = await post_stream(client, "/v2/agents/echo-agent/stream-task", {"message": _message("hi")})
    assert all(f.event is None and f.id is None for f in got)
    assert got[-1].data == "[DONE]"
    events = _events(got)
    assert all(set(e) == {"type", "timestamp", "data"} for e in events)
    assert {e["type"] for e in events} <= TYPES
    inactive = events[-1]
    assert inactive["type"] == "event.agents.inactive"
    assert set(inactive["data"]["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert set(inactive["data"]["billing"]) == {"total_cost", "input_cost", "output_cost", "billable", "integration_id"}


async def test_a_task_continues_with_tool_results_only_while_inactive(orq: SandboxServer) -> None:
    async with client_for(orq) as client:
        first = _events(
            await post_stream(client, "/v2/agents/weather-agent/stream-task", {"message": _message("Oslo")})
        )
        task_id = first[0]["data"]["agent_task_id"]
        (call,) = first[-1]["data"]["pending_tool_calls"]
        assert first[-1]["data"]["finish_reason"] == "tool_calls"
        wrong = await client.post(
            "/v2/agents/weather-agent/stream-task",
            json={"task_id": task_id, "message": {"role": "tool", "parts": [{"kind": "text", "text": "x"}]}},
        )
        results = {"role": "tool", "parts": [{"kind": "tool_result", "tool_call_id": call["id"], "result": "cold"}]}
        second = _events(
            await post_stream(client, "/v2/agents/weather-agent/stream-task", {"task_id": task_id, "message": results})
        )
        unknown = await client.post(
            "/v2/agents/weather-agent/stream-task", json={"task_id": "nope", "message": results}
        )
    assert wrong.status_code == 400
    assert second[0]["data"]["agent_task_id"] == task_id
    assert second[-1]["data"]["last_message"] == "The tool said: cold"
    assert unknown.status_code == 404


async def test_a_review_waits_with_keep_alives_until_decided(orq: SandboxServer) -> None:
    async with client_for(orq) as client:
        with anyio.fail_after(5):
            async with client.stream(
                "POST", "/v2/agents/payments-agent/stream-task", json={"message": _message("refund")}
            ) as response:
                seen: list[Frame] = []
                task_id = ""
                async for frame in frames(response):
                    seen.append(frame)
                    if frame.comment is None and frame.data != "[DONE]":
                        event = frame.json()
                        if event["type"] == "agents.execution_started":
                            task_id = event["data"]["agent_task_id"]
                    if frame.comment is not None and sum(1 for f in seen if f.comment is not None) == 2:
                        decided = await client.post(f"/_sandbox/orq/reviews/{task_id}", json={"review": "approved"})
                        assert decided.status_code == 200
    types = [f.json()["type"] for f in seen if f.comment is None and f.data != "[DONE]"]
    assert types.index("event.agents.action_review_requested") < types.index("event.agents.action_reviewed")
    assert seen[-1].data == "[DONE]"


async def test_a_stream_times_out_and_a_task_reads_back(orq: SandboxServer) -> None:
    async with client_for(orq) as client:
        events = _events(
            await post_stream(
                client, "/v2/agents/slow-agent/stream-task", {"message": _message("x"), "stream_timeout_seconds": 1}
            )
        )
        task_id = events[0]["data"]["agent_task_id"]
        state = (await client.get(f"/v2/agents/slow-agent/responses/{task_id}")).json()
        bad = await client.post(
            "/v2/agents/echo-agent/stream-task", json={"message": _message("x"), "stream_timeout_seconds": 0}
        )
        submitted = (await client.post("/v2/agents/echo-agent/task", json={"message": _message("later")})).json()
    assert events[-1]["type"] == "agents.timeout"
    assert state["status"] == "in_progress"
    assert bad.status_code == 400
    assert submitted["kind"] == "task"
    assert submitted["status"]["state"] == "submitted"


async def test_a_run_takes_only_what_the_sdks_run_body_has(orq: SandboxServer) -> None:
    inline = {
        "key": f"run-{uuid.uuid4().hex[:6]}",
        "role": "r",
        "instructions": "i",
        "path": "Default/agents",
        "model": "openai/gpt-4o-mini",
        "settings": {"max_iterations": 2},
        "message": _message("x"),
    }
    async with client_for(orq) as client:
        refused = await client.post("/v2/agents/run", json={**inline, "configuration": {"blocking": False}})
        timeout = await client.post("/v2/agents/run", json={**inline, "stream_timeout_seconds": 5})
        taken = await client.post("/v2/agents/run", json=inline)
    assert refused.status_code == 400
    assert refused.json() == {"message": "Unknown fields: configuration"}
    assert timeout.status_code == 400  # streamed runs only
    assert taken.status_code == 200
    assert taken.json()["status"]["state"] == "submitted"  # a run never blocks


async def test_an_update_takes_the_versioning_fields_as_the_sdk_names_them(orq: SandboxServer) -> None:
    async with client_for(orq) as client:
        snake = await client.patch("/v2/agents/echo-agent", json={"version_increment": "patch"})
        camel = await client.patch(
            "/v2/agents/echo-agent", json={"versionIncrement": "patch", "versionDescription": "a patch"}
        )
        kept = (await client.get("/v2/agents/echo-agent")).json()
    assert snake.status_code == 400
    assert snake.json() == {"message": "Unknown fields: version_increment"}
    assert camel.status_code == 200
    assert kept["version"] == camel.json()["version"] != "v1.0.0"
    assert kept["version_description"] == "a patch"


async def test_the_type_filter_filters_and_external_agents_are_read_and_deleted(orq: SandboxServer) -> None:
    external = {"key": "remote", "display_name": "Remote", "path": "Default/agents", "agent_url": "https://r.example"}
    async with client_for(orq) as client:
        assert (await client.post("/v2/agents/external", json=external)).status_code == 200
        everything = (await client.get("/v2/agents")).json()["data"]
        internal = (await client.get("/v2/agents", params={"type": "internal"})).json()["data"]
        a2a = await client.get("/v2/agents", params={"type": "a2a"})
        got = await client.get("/v2/agents/external/remote")
        deleted = await client.delete("/v2/agents/external/remote")
        gone = await client.get("/v2/agents/external/remote")
    assert [a["type"] for a in everything if a["key"] == "remote"] == ["a2a"]
    assert [a["key"] for a in internal] == [a["key"] for a in everything if a["type"] == "internal"]
    assert "remote" not in {a["key"] for a in internal}
    assert a2a.status_code == 400
    assert got.json()["agent"]["agent_url"] == "https://r.example"
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert gone.status_code == 404
