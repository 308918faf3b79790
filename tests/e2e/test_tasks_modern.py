"""Runs as 2026 MCP tasks (the `io.modelcontextprotocol/tasks` extension) through the official Python client with a
client extension claiming `resultType: "task"`: polled to completion, a gate answered with `tasks/update` (once),
cancelled (the backend run with it), and a client that did not opt in served as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from examples._tasks import TaskCreated, TaskExtension, cancel, get, until, update
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequest, CallToolRequestParams, TaskMetadata

from runbridge.core import Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import Lifecycle, build_server
from task_scenarios import listened_through_its_gate

pytestmark = pytest.mark.anyio


def _report(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_a_run_started_as_a_task_is_polled_to_completion(settings: Settings, sandbox: SandboxServer) -> None:
    tasks = TaskExtension()
    before = sandbox.stats()["runs_created"]
    with anyio.fail_after(30):
        async with Client(build_server(settings), extensions=[tasks]) as client:
            report = _report(await client.call_tool("runs_start", {"target_id": "quick-demo"}))
    assert report["status"] == "completed"
    assert report["done"] is True
    assert sandbox.stats()["runs_created"] == before + 1
    created = tasks.created[0]
    assert created.status == "working"
    assert created.task_id.startswith(f"sandbox/{report['run_id']}/")  # bound to the run
    assert created.ttl_ms is not None
    assert created.ttl_ms >= 24 * 3600 * 1000
    assert [s.status for s in tasks.seen][-1] == "completed"


async def test_a_client_that_did_not_opt_in_gets_the_hybrid_wait(settings: Settings) -> None:
    with anyio.fail_after(30):
        async with Client(build_server(settings)) as client:
            report = _report(await client.call_tool("runs_start", {"target_id": "quick-demo"}))
    assert report["status"] == "completed"


async def test_a_gate_is_input_required_and_answered_once_with_tasks_update(settings: Settings) -> None:
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with Client(build_server(settings), extensions=[tasks]) as client:
            await client.call_tool("runs_start", {"target_id": "approval-demo"})
            task_id = tasks.created[0].task_id
            waiting = await until(client.session, task_id, "input_required")
            assert waiting.input_requests is not None
            [(key, request)] = waiting.input_requests.items()
            assert request["method"] == "elicitation/create"
            assert "Approve the launch announcement" in request["params"]["message"]
            schema = request["params"]["requestedSchema"]
            assert [o["const"] for o in schema["properties"]["decision"]["oneOf"]] == ["accept", "reject", "refine"]
            await update(client.session, task_id, {key: {"action": "accept", "content": {"decision": "accept"}}})
            with pytest.raises(MCPError):  # a gate is answered once
                await update(client.session, task_id, {key: {"action": "accept", "content": {"decision": "accept"}}})
            done = await until(client.session, task_id, "completed", "failed")
    assert done.status == "completed", done
    assert done.result is not None
    structured = done.result["structuredContent"]
    assert structured["decision"] == "accepted"
    assert structured["outputs"]["result"] == "Announcement published."


async def test_cancelling_the_task_cancels_the_backend_run(
    slow_settings: Settings, slow_sandbox: SandboxServer
) -> None:
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(30):
        async with Client(build_server(slow_settings), extensions=[tasks]) as client:
            await client.call_tool("runs_start", {"target_id": "long-demo"})
            task_id = tasks.created[0].task_id
            run_id = task_id.split("/")[1]
            await cancel(client.session, task_id)
            state = await get(client.session, task_id)
            assert state.status == "cancelled"
            await cancel(client.session, task_id)  # cancelling an ended task is acknowledged and changes nothing
            assert (await get(client.session, task_id)).status == "cancelled"
            run = _report(await client.call_tool("runs_get", {"run_id": run_id}))
    assert run["run"]["status"] == "cancelled"


async def test_an_unknown_task_is_an_invalid_params_error(settings: Settings) -> None:
    async with Client(build_server(settings), extensions=[TaskExtension()]) as client:
        with pytest.raises(MCPError) as raised:
            await get(client.session, "sandbox/nope/xyz")
    assert raised.value.error.code == -32602


async def test_a_failed_run_completes_the_task_with_the_tools_result_saying_so(settings: Settings) -> None:
    tasks = TaskExtension()
    with anyio.fail_after(30):
        async with Client(build_server(settings), extensions=[tasks]) as client:
            report = _report(await client.call_tool("runs_start", {"target_id": "failing-demo"}))
    assert report["status"] == "failed"
    assert report["error"]
    assert tasks.seen[-1].status == "completed"  # the tool ran; "failed" is for runbridge failing to finish it


async def test_a_call_refused_before_any_run_is_answered_as_without_a_task(settings: Settings) -> None:
    tasks = TaskExtension()
    async with Client(build_server(settings), extensions=[tasks]) as client:
        result = await client.call_tool("runs_start", {"target_id": "quick-demo", "profile": "nope"})
    assert result.is_error
    assert "nope" in " ".join(getattr(c, "text", "") for c in result.content)
    assert tasks.created == []


async def test_the_task_methods_need_the_extension_declared(settings: Settings) -> None:
    async with Client(build_server(settings)) as client:
        with pytest.raises(MCPError) as raised:
            await get(client.session, "sandbox/nope/xyz")
    assert raised.value.error.code == -32021


async def test_status_changes_reach_a_listen_stream_that_names_the_task(settings: Settings) -> None:
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with Client(build_server(settings), extensions=[tasks]) as client:
            _, notified = await listened_through_its_gate(client, tasks)
    told = [n["status"] for n in notified]
    assert "working" in told
    assert told[-1] == "completed"
    assert notified[-1]["result"]["structuredContent"]["decision"] == "accepted"


async def test_a_graceful_stop_leaves_the_task_for_the_next_runbridge(settings: Settings) -> None:
    """Stopping runbridge ends the tool calls in progress, saying so; a task is no call in progress: it stays where it
    was (waiting on its gate here), for the next runbridge to take up."""
    lifecycle = Lifecycle()
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(30):
        async with Client(build_server(settings, lifecycle=lifecycle), extensions=[tasks]) as client:
            await client.call_tool("runs_start", {"target_id": "approval-demo"})
            task_id = tasks.created[0].task_id
            await until(client.session, task_id, "input_required")
            await lifecycle.stop_calls()
            await anyio.sleep(0.2)
            after = await get(client.session, task_id)
    assert after.status == "input_required", after


@pytest.fixture
def steady_settings(settings: Settings) -> Iterator[Settings]:
    """`settings` on a sandbox whose long-demo takes 4.4 s (55 steps of 0.08 s): still running, step after step,
    well after a second client has started following it, however busy the machine (at the shared slow sandbox's
    1.1 s, a busy machine could see the run end before the task followed it, its steps then one burst)."""
    with SandboxServer("openwop", keepalive_seconds=0.2, speed=2.5) as sandbox:
        profile = settings.profiles["sandbox"].model_copy(update={"base_url": sandbox.base_url})
        yield settings.model_copy(update={"profiles": {"sandbox": profile}})


async def test_a_working_task_says_the_runs_current_step_and_runs_watch_runs_as_a_task_too(
    steady_settings: Settings,
) -> None:
    tasks = TaskExtension(interval=0.02)
    with anyio.fail_after(30):
        async with Client(build_server(steady_settings)) as plain:  # started without a task: a handle at once
            handle = _report(await plain.call_tool("runs_start", {"target_id": "long-demo", "wait_seconds": 0}))
        assert handle["done"] is False
        async with Client(build_server(steady_settings), extensions=[tasks]) as client:
            report = _report(await client.call_tool("runs_watch", {"run_id": handle["run_id"]}))
    assert report["status"] == "completed"
    assert tasks.created[0].task_id.startswith(f"sandbox/{handle['run_id']}/")
    steps = [s.status_message for s in tasks.seen if s.status == "working" and s.status_message]
    assert any(m.startswith("step ") for m in steps), steps


async def test_a_tasks_gate_answered_with_gates_respond_moves_the_task_on_and_is_not_answered_twice(
    settings: Settings,
) -> None:
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with Client(build_server(settings), extensions=[tasks]) as client:
            await client.call_tool("runs_start", {"target_id": "approval-demo"})
            task_id = tasks.created[0].task_id
            waiting = await until(client.session, task_id, "input_required")
            assert waiting.input_requests is not None
            [key] = waiting.input_requests
            gate_id = key.split(":", 1)[1]
            answered = _report(await client.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"}))
            assert answered["decision"] == "accepted"
            with pytest.raises(MCPError):  # the gate was answered: the task's copy of the question is gone
                await update(client.session, task_id, {key: {"action": "accept", "content": {"decision": "accept"}}})
            done = await until(client.session, task_id, "completed", "failed")
    assert done.status == "completed", done
    assert done.result is not None
    assert done.result["structuredContent"]["outputs"]["result"] == "Announcement published."


async def test_a_ttl_the_client_asks_for_is_kept_within_runbridges_bound_of_30_days(settings: Settings) -> None:
    day = 24 * 3600 * 1000
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(30):
        async with Client(build_server(settings), extensions=[tasks]) as client:
            kept: dict[int | None, tuple[int | None, int | None]] = {}
            for asked in (3_600_000, 90 * day, None):
                task = TaskMetadata(ttl=asked) if asked is not None else None
                params = CallToolRequestParams(name="runs_start", arguments={"target_id": "quick-demo"}, task=task)
                created = await client.session.send_request(CallToolRequest(params=params), TaskCreated)
                state = await get(client.session, created.task_id)
                kept[asked] = (created.ttl_ms, (state.model_extra or {}).get("ttlMs"))
    assert kept[3_600_000] == (3_600_000, 3_600_000)
    assert kept[90 * day] == (30 * day, 30 * day)
    assert kept[None] == (7 * day, 7 * day)
