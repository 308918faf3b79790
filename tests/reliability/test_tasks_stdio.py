"""Runs as MCP tasks over stdio (`runbridge serve` in a subprocess): the 2025-11-25 task methods by hand in raw
JSON-RPC, and a 2026 task polled again, and its gate answered, after runbridge restarted on the same state file."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from examples._tasks import TaskExtension, get, until, update
from mcp import Client, StdioServerParameters
from surface_harness import RUNBRIDGE, child_env, profile_for, settings_for, write_config
from test_malformed_jsonrpc import INITIALIZE, Stdio

from runbridge.core import Settings
from runbridge.sandbox import SandboxServer
from task_scenarios import listened_through_its_gate

pytestmark = pytest.mark.anyio

KEY = "sk-tasks-stdio-3c1e9a77b2"
KEY_ENV = "RB_TASKS_STDIO_KEY"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", api_key=KEY, keepalive_seconds=0.2, speed=10.0) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, KEY)
    return settings_for(profile_for("openwop", sandbox, "sandbox", KEY_ENV))


class Rpc(Stdio):
    """Requests by hand, numbered; notifications seen on the way are kept."""

    def __init__(self, process: Any) -> None:
        super().__init__(process)
        self.next_id = 100
        self.notes: list[dict[str, Any]] = []

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        await self.send(
            json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}}).encode()
        )
        while True:
            message = json.loads(await self.stdout.receive_until(b"\n", 1_000_000))
            if "id" not in message:
                self.notes.append(message)
            elif message["id"] == self.next_id:
                return message


async def test_the_2025_task_methods_by_hand_over_stdio(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "runbridge.toml", settings.profiles, state_path=str(tmp_path / "state.db"))
    env = child_env(RUNBRIDGE_CONFIG=str(config), **{KEY_ENV: KEY})
    with anyio.fail_after(60):
        async with await anyio.open_process([*RUNBRIDGE, "serve"], env=env) as process:
            rpc = Rpc(process)
            await rpc.send(json.dumps(INITIALIZE).encode())
            hello = await rpc.reply()
            assert hello["result"]["capabilities"]["tasks"]["requests"] == {"tools": {"call": {}}}
            await rpc.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')
            tools = {t["name"]: t for t in (await rpc.call("tools/list"))["result"]["tools"]}
            assert tools["runs_start"]["execution"] == {"taskSupport": "optional"}
            assert "execution" not in tools["runs_get"]

            # Without `task`, the same call is today's hybrid wait.
            plain = await rpc.call("tools/call", {"name": "runs_start", "arguments": {"target_id": "quick-demo"}})
            assert plain["result"]["structuredContent"]["status"] == "completed"

            asked = {"name": "runs_start", "arguments": {"target_id": "long-demo"}, "task": {"ttl": 600_000}}
            asked["_meta"] = {"progressToken": "p1"}
            created = (await rpc.call("tools/call", asked))["result"]["task"]
            assert created["status"] == "working"
            assert created["ttl"] == 600_000
            assert created["pollInterval"] > 0
            task_id = created["taskId"]
            got = (await rpc.call("tasks/get", {"taskId": task_id}))["result"]
            assert got["taskId"] == task_id
            assert got["status"] in ("working", "completed")
            result = (await rpc.call("tasks/result", {"taskId": task_id}))["result"]
            assert result["isError"] is False
            assert result["structuredContent"]["status"] == "completed"
            assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task_id}
            assert (await rpc.call("tasks/get", {"taskId": task_id}))["result"]["status"] == "completed"
            assert any(n["method"] == "notifications/progress" for n in rpc.notes), "progress keeps flowing"
            told = [n["params"] for n in rpc.notes if n["method"] == "notifications/tasks/status"]
            assert {"taskId": task_id, "status": "completed"}.items() <= told[-1].items()

            second = (await rpc.call("tools/call", {**asked, "task": {}}))["result"]["task"]["taskId"]
            cancelled = (await rpc.call("tasks/cancel", {"taskId": second}))["result"]
            assert cancelled["status"] == "cancelled"
            again = await rpc.call("tasks/cancel", {"taskId": second})
            assert again["error"]["code"] == -32602

            listed = (await rpc.call("tasks/list", {}))["result"]["tasks"]
            assert [t["taskId"] for t in listed] == [second, task_id]
            unknown = await rpc.call("tasks/get", {"taskId": "sandbox/nope/x"})
            assert unknown["error"]["code"] == -32602
            assert process.stdin is not None
            await process.stdin.aclose()
            with anyio.fail_after(10):
                await process.wait()
            assert process.stderr is not None
            stderr = b"".join([chunk async for chunk in process.stderr]).decode()
    assert "Traceback" not in stderr
    assert KEY not in stderr


async def test_a_2026_task_is_polled_and_answered_after_runbridge_restarted(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "runbridge.toml", settings.profiles, state_path=str(tmp_path / "state.db"))
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "runbridge", "serve"], env=child_env(RUNBRIDGE_CONFIG=str(config))
    )
    tasks = TaskExtension(poll=False)
    runs_before = sandbox.stats()["runs_created"]
    with anyio.fail_after(60):
        async with Client(server, extensions=[tasks]) as client:
            await client.call_tool("runs_start", {"target_id": "approval-demo"})
            task_id = tasks.created[0].task_id
            waiting = await until(client.session, task_id, "input_required")
        # runbridge has stopped (its stdin closed); a new one on the same state file knows the task.
        async with Client(server, extensions=[TaskExtension(poll=False)]) as client:
            again = await get(client.session, task_id)
            assert again.status == "input_required"
            assert again.input_requests == waiting.input_requests
            assert again.input_requests is not None
            [key] = again.input_requests
            await update(client.session, task_id, {key: {"action": "accept", "content": {"decision": "accept"}}})
            done = await until(client.session, task_id, "completed", "failed", within=40)
    assert done.status == "completed", done
    assert done.result is not None
    assert done.result["structuredContent"]["outputs"]["result"] == "Announcement published."
    assert sandbox.stats()["runs_created"] == runs_before + 1


async def test_a_2026_listen_stream_over_stdio_hears_the_tasks_status_changes(
    settings: Settings, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "runbridge.toml", settings.profiles, state_path=str(tmp_path / "state.db"))
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "runbridge", "serve"], env=child_env(RUNBRIDGE_CONFIG=str(config))
    )
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(60):
        async with Client(server, extensions=[tasks]) as client:
            _, notified = await listened_through_its_gate(client, tasks)
    told = [n["status"] for n in notified]
    assert "working" in told
    assert told[-1] == "completed"
    assert notified[-1]["result"]["structuredContent"]["decision"] == "accepted"


async def test_a_2025_task_is_read_and_its_gate_answered_after_runbridge_restarted(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "runbridge.toml", settings.profiles, state_path=str(tmp_path / "state.db"))
    env = child_env(RUNBRIDGE_CONFIG=str(config), **{KEY_ENV: KEY})
    runs_before = sandbox.stats()["runs_created"]

    async def hello(rpc: Rpc) -> None:
        await rpc.send(json.dumps(INITIALIZE).encode())
        await rpc.reply()
        await rpc.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')

    async def stop(process: Any) -> None:
        assert process.stdin is not None
        await process.stdin.aclose()
        with anyio.fail_after(10):
            await process.wait()

    with anyio.fail_after(90):
        async with await anyio.open_process([*RUNBRIDGE, "serve"], env=env) as process:
            rpc = Rpc(process)
            await hello(rpc)
            asked = {"name": "runs_start", "arguments": {"target_id": "approval-demo"}, "task": {}}
            task_id = (await rpc.call("tools/call", asked))["result"]["task"]["taskId"]
            while (got := (await rpc.call("tasks/get", {"taskId": task_id}))["result"])["status"] == "working":
                await anyio.sleep(0.05)
            assert got["status"] == "input_required", got
            await stop(process)
        # A new runbridge on the same state file knows the task, still waiting on its gate.
        async with await anyio.open_process([*RUNBRIDGE, "serve"], env=env) as process:
            rpc = Rpc(process)
            await hello(rpc)
            again = (await rpc.call("tasks/get", {"taskId": task_id}))["result"]
            assert again["status"] == "input_required", again
            assert again["statusMessage"] == got["statusMessage"]
            listed = await rpc.call("tools/call", {"name": "gates_list", "arguments": {}})
            [gate] = listed["result"]["structuredContent"]["gates"]
            args = {"gate_id": gate["gate_id"], "decision": "accept", "values": {"decision": "accept"}}
            answered = (await rpc.call("tools/call", {"name": "gates_respond", "arguments": args}))["result"]
            assert answered["isError"] is False, answered
            result = (await rpc.call("tasks/result", {"taskId": task_id}))["result"]
            final = (await rpc.call("tasks/get", {"taskId": task_id}))["result"]
            await stop(process)
    assert result["structuredContent"]["status"] == "completed", result
    assert result["structuredContent"]["outputs"]["result"] == "Announcement published."
    assert final["status"] == "completed"
    assert sandbox.stats()["runs_created"] == runs_before + 1
