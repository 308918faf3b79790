"""The subscription bus over Redis pub/sub: two `runbridge serve --http` processes on one real Redis, through the
official MCP client (2026 era). A client listening on replica B hears of a run that replica A follows (B is not
configured with the run's profile, so it cannot follow the run itself: what it hears came from A, over Redis), and
of a task's status changes while A follows the task (A holds the task's lease, so B does not follow it). A 2025-era
session on A hears its task's status changes after B took the task over (A's lease lapsed), over Redis too."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx2
import pytest
from examples._tasks import TaskExtension, get, listen_to_tasks, until, update
from faults_harness import MakeSandbox, openwop_config, structured, wait_for_port
from lb_harness import replica_env, start_http_replica, stop_processes
from mcp import Client
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated, ToolsListChanged
from tests.raw_jsonrpc import RawSession

from ports import free_port
from redis_server import RedisServer, redis_server_or_skip
from runbridge.sandbox import SandboxServer
from runbridge.server.redis_bus import decode, encode
from runbridge.state.redis_keys import Keys
from runbridge.state.redis_store import DEFAULT_PREFIX

RING = "bus-ring-key-" + "q" * 40


def _config(path: Path, redis: RedisServer, sandbox: SandboxServer, key_env: str, profile: str) -> Path:
    return openwop_config(path, sandbox, key_env, profile=profile, state_url=redis.url, progress_interval_seconds=0)


@contextmanager
def _serving(folder: Path, configs: dict[str, Path], key_env: str) -> Iterator[dict[str, int]]:
    env = replica_env(key_env, RING)
    ports = {name: free_port() for name in configs}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, config in configs.items():
            processes.append(start_http_replica(folder, name, ports[name], config, env))
        yield ports
    finally:
        stop_processes(processes)


@pytest.mark.anyio
async def test_a_client_listening_on_one_replica_hears_of_a_run_another_replica_follows(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    redis = RedisServer(redis_server_or_skip(), tmp_path / "redis")
    redis.start()
    configs = {
        "a": _config(tmp_path / "a.toml", redis, sandbox, sandbox_key_env, "rel"),
        "b": _config(tmp_path / "b.toml", redis, sandbox, sandbox_key_env, "elsewhere"),
    }
    heard: list[str] = []
    try:
        with _serving(tmp_path, configs, sandbox_key_env) as ports, anyio.fail_after(40):
            for port in ports.values():
                await wait_for_port(port, within=30)
            url_a, url_b = (f"http://127.0.0.1:{ports[n]}/mcp" for n in ("a", "b"))
            async with Client(url_a, mode="auto") as a, Client(url_b, mode="auto") as b:
                assert a.protocol_version == b.protocol_version == "2026-07-28"
                waiting = structured(await a.call_tool("runs_start", {"target_id": "approval-demo"}))
                uri = f"runbridge://rel/runs/{waiting['run_id']}"
                async with b.listen(resource_subscriptions=[uri]) as on_b, a.listen(resource_subscriptions=[uri]):
                    answer = {"gate_id": waiting["waiting_for"]["gate_id"], "decision": "accept", "wait_seconds": 0}
                    structured(await a.call_tool("gates_respond", answer))
                    async for event in on_b:
                        heard.append(getattr(event, "uri", ""))
                        break
            logs = {name: (tmp_path / f"{name}.log").read_text(errors="replace") for name in configs}
    finally:
        redis.stop()
    assert heard == [uri]
    assert not any("Traceback" in log for log in logs.values()), logs


@pytest.mark.anyio
async def test_a_client_listening_on_one_replica_hears_the_status_of_a_task_another_replica_follows(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    redis = RedisServer(redis_server_or_skip(), tmp_path / "redis")
    redis.start()
    config = _config(tmp_path / "rb.toml", redis, sandbox, sandbox_key_env, "rel")
    on_a, on_b = TaskExtension(poll=False), TaskExtension(poll=False)
    try:
        with _serving(tmp_path, {"a": config, "b": config}, sandbox_key_env) as ports, anyio.fail_after(40):
            for port in ports.values():
                await wait_for_port(port, within=30)
            url_a, url_b = (f"http://127.0.0.1:{ports[n]}/mcp" for n in ("a", "b"))
            async with Client(url_a, extensions=[on_a]) as a, Client(url_b, extensions=[on_b]) as b:
                await a.call_tool("runs_start", {"target_id": "approval-demo"})
                task_id = on_a.created[0].task_id
                waiting = await until(a.session, task_id, "input_required")
                [key] = waiting.input_requests or {}
                async with anyio.create_task_group() as listening:
                    listening.start_soon(listen_to_tasks, b.session, task_id)
                    await anyio.sleep(1.0)  # the stream is acknowledged and names the task
                    await update(a.session, task_id, {key: {"action": "accept", "content": {"decision": "accept"}}})
                    while not any(n.get("status") == "completed" for n in on_b.notified):
                        await anyio.sleep(0.05)  # bounded by fail_after
                    listening.cancel_scope.cancel()
            logs = {name: (tmp_path / f"{name}.log").read_text(errors="replace") for name in ports}
    finally:
        redis.stop()
    assert [n["taskId"] for n in on_b.notified if n.get("status") == "completed"] == [task_id]
    assert not any("Traceback" in log for log in logs.values()), logs


def test_events_cross_the_channel_as_they_were_and_anything_else_on_it_is_ignored() -> None:
    for event in (ResourceUpdated(uri="runbridge://p/runs/r1"), ToolsListChanged(), ResourcesListChanged()):
        assert decode(encode(event)) == event
    for junk in (b"", b"not json", b"[1]", b'{"updated": 3}', b'{"list_changed": "nope"}'):
        assert decode(junk) is None


class _Session2025(RawSession):
    """A 2025-11-25 session by hand, its GET stream read in the background, every notification kept in `notes`."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        super().__init__(http, url)
        self.notes: list[dict[str, Any]] = []

    async def listen(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        headers = self.headers | {"Accept": "text/event-stream"}
        async with self.http.stream("GET", self.url, headers=headers) as stream:
            assert stream.status_code == 200, stream.status_code
            task_status.started()
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    self.notes.append(json.loads(line[5:]))

    def statuses(self, task_id: str) -> list[str]:
        return [
            n["params"]["status"]
            for n in self.notes
            if n.get("method") == "notifications/tasks/status" and n["params"].get("taskId") == task_id
        ]


async def _runner(redis: RedisServer, task_id: str) -> tuple[str | None, Any]:
    """Which process follows the task (its lease in Redis), and the client to change it with."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis.url, decode_responses=True)
    return await client.hget(Keys(DEFAULT_PREFIX).task(task_id), "runner"), client


@pytest.mark.anyio
@pytest.mark.slow  # its run's frames are slowed on purpose (about 25 s)
async def test_a_2025_session_hears_the_status_of_its_task_after_another_replica_took_the_task_over(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    redis = RedisServer(redis_server_or_skip(), tmp_path / "redis")
    redis.start()
    config = _config(tmp_path / "rb.toml", redis, sandbox, sandbox_key_env, "rel")
    on_b = TaskExtension(poll=False)
    try:
        with _serving(tmp_path, {"a": config, "b": config}, sandbox_key_env) as ports, anyio.fail_after(60):
            for port in ports.values():
                await wait_for_port(port, within=30)
            url_a, url_b = (f"http://127.0.0.1:{ports[n]}/mcp" for n in ("a", "b"))
            async with httpx2.AsyncClient(timeout=30) as http, anyio.create_task_group() as streams:
                a = _Session2025(http, url_a)
                await a.open()
                await streams.start(a.listen)
                # Its frames slowed, so that A looks at the answered gate before B has followed the run to its end.
                slow = {"target_id": "approval-demo", "inputs": {"_sandbox": {"slow_frame_seconds": 1.0}}}
                asked = {"name": "runs_start", "arguments": slow, "task": {}}
                task_id = (await a.call("tools/call", asked))["result"]["task"]["taskId"]
                while (await a.call("tasks/get", {"taskId": task_id}))["result"]["status"] != "input_required":
                    await anyio.sleep(0.05)  # bounded by fail_after
                follower_a, store = await _runner(redis, task_id)
                assert follower_a is not None
                async with Client(url_b, extensions=[on_b]) as b:
                    # A's lease lapses (as when A stalls); B, asked about the task, takes it over.
                    while (await store.hget(Keys(DEFAULT_PREFIX).task(task_id), "runner")) == follower_a:
                        lapsed = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
                        await store.hset(Keys(DEFAULT_PREFIX).task(task_id), "runner_until", lapsed)
                        waiting = await get(b.session, task_id)
                        await anyio.sleep(0.2)
                    assert waiting.status == "input_required"
                    [key] = waiting.input_requests or {}
                    await update(b.session, task_id, {key: {"action": "accept", "content": {"decision": "accept"}}})
                    while "completed" not in a.statuses(task_id):
                        await anyio.sleep(0.05)  # bounded by fail_after
                    finished = await get(b.session, task_id)
                await store.aclose()
                streams.cancel_scope.cancel()
            logs = {name: (tmp_path / f"{name}.log").read_text(errors="replace") for name in ports}
    finally:
        redis.stop()
    assert finished.status == "completed"
    heard = a.statuses(task_id)
    assert heard[-1] == "completed", heard
    assert heard.count("completed") == 1, heard
    assert sandbox.stats()["resolves"] == 1
    assert not any("Traceback" in log for log in logs.values()), logs
