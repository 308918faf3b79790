"""A gate answered in the backend's own interface, not through runbridge: the task waiting on it goes on to the run's
end in both eras (never asked again, never back to `input_required`), and a plain `runs_watch` reports the run's
real end, with the gate no longer listed as open. The sandbox's gate is answered with its own resume request, as
the backend's UI would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from examples._tasks import TaskExtension, get, until
from mcp import Client
from tests.raw_jsonrpc import RawSession

import runbridge.bridge.tasks as task_module
from runbridge.cli.serve import http_app
from runbridge.core import Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

Serve = Callable[[Any], str]


@pytest.fixture(autouse=True)
def _backend_asked_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task waiting on a gate asks the backend every few seconds in these tests, not every 20."""
    monkeypatch.setattr(task_module, "BACKEND_CHECK_SECONDS", 1.0)


async def _answer_on_the_backend(sandbox: SandboxServer, run_id: str) -> None:
    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers, timeout=10) as http:
        snapshot = (await http.get(f"/v1/runs/{run_id}")).json()
        node = snapshot["interrupt"]["nodeId"]
        answered = await http.post(f"/v1/runs/{run_id}/interrupts/{node}", json={"resumeValue": {"decision": "accept"}})
        assert answered.status_code == 200, answered.text
        with anyio.fail_after(10):
            while (await http.get(f"/v1/runs/{run_id}")).json()["status"] != "completed":
                await anyio.sleep(0.05)


async def test_a_2026_task_goes_on_to_the_end_after_its_gate_was_answered_on_the_backend(
    settings: Settings, sandbox: SandboxServer
) -> None:
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with Client(build_server(settings), extensions=[tasks]) as client:
            await client.call_tool("runs_start", {"target_id": "approval-demo"})
            task_id = tasks.created[0].task_id
            await until(client.session, task_id, "input_required")
            await _answer_on_the_backend(sandbox, task_id.split("/")[1])
            seen: list[str] = []
            done = await until(client.session, task_id, "completed", "failed", on_state=lambda s: seen.append(s.status))
            gates = (await client.call_tool("gates_list", {})).structured_content
            await anyio.sleep(1.5)  # the backend is asked again meanwhile: the task stays ended
            after = await get(client.session, task_id)
    assert done.status == "completed", done
    assert done.result is not None
    assert done.result["structuredContent"]["status"] == "completed"
    moved_on = next(i for i, status in enumerate(seen) if status != "input_required")
    assert "input_required" not in seen[moved_on:], seen  # never asked again once the backend went on
    assert after.status == "completed"
    assert gates is not None
    assert gates["gates"] == []


async def test_runs_watch_reports_the_real_end_of_a_run_whose_gate_was_answered_on_the_backend(
    settings: Settings, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(40):
        async with Client(build_server(settings), mode="legacy") as client:  # no elicitation: the gate is a handle
            started = (await client.call_tool("runs_start", {"target_id": "approval-demo"})).structured_content
            assert started is not None
            assert started["status"] == "waiting"
            assert started["waiting_for"]
            await _answer_on_the_backend(sandbox, started["run_id"])
            watched = await client.call_tool("runs_watch", {"run_id": started["run_id"], "wait_seconds": 10})
            gates = (await client.call_tool("gates_list", {})).structured_content
    report = watched.structured_content
    assert report is not None
    assert report["status"] == "completed", report
    assert report["done"] is True
    assert not report.get("waiting_for")
    assert gates is not None
    assert gates["gates"] == []


async def test_a_2025_task_goes_on_to_the_end_after_its_gate_was_answered_on_the_backend(
    settings: Settings, sandbox: SandboxServer, serve_http: Serve
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    with anyio.fail_after(40):
        async with httpx2.AsyncClient(timeout=30) as http:
            raw = RawSession(http, url)
            await raw.open()
            call = raw.call

            params = {"name": "runs_start", "arguments": {"target_id": "approval-demo"}, "task": {}}
            task_id = (await call("tools/call", params))["result"]["task"]["taskId"]
            while (await call("tasks/get", {"taskId": task_id}))["result"]["status"] != "input_required":
                await anyio.sleep(0.05)
            await _answer_on_the_backend(sandbox, task_id.split("/")[1])
            result = (await call("tasks/result", {"taskId": task_id}))["result"]
            status = (await call("tasks/get", {"taskId": task_id}))["result"]["status"]
    assert result["structuredContent"]["status"] == "completed", result
    assert status == "completed"
