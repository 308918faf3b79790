"""Two `runbridge serve` processes on one Redis (a real redis-server), through the whole MCP path: a gate opened
through one is seen and answered through the other, and when both answer it at once the run is resumed once. The
official MCP client talks to each over stdio; the sandbox counts what reached the backend."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from faults_harness import (
    MakeSandbox,
    assert_curated_error,
    openwop_config,
    request_times,
    serving_over_stdio,
    structured,
)
from mcp import Client
from mcp_types import CallToolResult

from redis_server import RedisServer
from runbridge.sandbox import DEFAULT_API_KEY, SandboxServer

pytestmark = pytest.mark.anyio

ANSWERS = "POST /v1/runs/{run_id}/interrupts/{node_id}"
RING = "shared-ring-key-" + "k" * 40


class Replicas:
    """`runbridge serve` processes on one configuration whose run store is the Redis at `redis.url`."""

    def __init__(self, tmp_path: Path, sandbox: SandboxServer, key_env: str, redis: RedisServer) -> None:
        self.tmp_path = tmp_path
        self.key_env = key_env
        self.config = openwop_config(
            tmp_path / "runbridge.toml",
            sandbox,
            key_env,
            state_url=redis.url,
            wait_seconds=20,
            progress_interval_seconds=0,
        )

    @asynccontextmanager
    async def serving(self, name: str) -> AsyncIterator[Client]:
        """A new runbridge process and a client without elicitation connected to it."""
        env = {"PATH": os.environ.get("PATH", ""), self.key_env: DEFAULT_API_KEY, "RUNBRIDGE_STATE_KEYS": RING}
        async with serving_over_stdio(self.tmp_path, name, env, "--config", str(self.config)) as (client, _):
            yield client

    def stderr(self, name: str) -> str:
        return (self.tmp_path / f"{name}.stderr").read_text(encoding="utf-8", errors="replace")


async def test_a_gate_opened_through_one_process_is_answered_through_another(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path, redis: RedisServer
) -> None:
    sandbox = make_sandbox("openwop")
    replicas = Replicas(tmp_path, sandbox, sandbox_key_env, redis)
    with anyio.fail_after(40):
        async with replicas.serving("a") as a, replicas.serving("b") as b:
            waiting = structured(await a.call_tool("runs_start", {"target_id": "approval-demo"}))
            gate_id = waiting["waiting_for"]["gate_id"]
            listed = structured(await b.call_tool("gates_list", {}))
            done = structured(await b.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"}))
            seen = structured(await a.call_tool("runs_get", {"run_id": waiting["run_id"]}))
            again = await a.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"})
    assert [g["gate_id"] for g in listed["gates"]] == [gate_id]
    assert done["status"] == "completed", done
    assert seen["run"]["status"] == "completed"
    assert "already answered" in assert_curated_error(again, DEFAULT_API_KEY)
    assert sandbox.stats()["resolves"] == 1
    assert "Traceback" not in replicas.stderr("a") + replicas.stderr("b")


async def test_two_processes_answering_one_gate_at_once_resume_the_run_once(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path, redis: RedisServer
) -> None:
    sandbox = make_sandbox("openwop")
    replicas = Replicas(tmp_path, sandbox, sandbox_key_env, redis)
    results: dict[str, CallToolResult] = {}

    async def answer(name: str, client: Client, gate_id: str) -> None:
        results[name] = await client.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"})

    with anyio.fail_after(40):
        async with replicas.serving("one") as one, replicas.serving("two") as two:
            waiting = structured(await one.call_tool("runs_start", {"target_id": "approval-demo"}))
            run_id, gate_id = waiting["run_id"], waiting["waiting_for"]["gate_id"]
            # The answer that gets through is slow to come back, so both calls are in flight together.
            sandbox.faults.slow(1.0, 2, method="POST", path_prefix=f"/v1/runs/{run_id}/interrupts")
            started = time.monotonic()
            async with anyio.create_task_group() as tg:
                tg.start_soon(answer, "one", one, gate_id)
                tg.start_soon(answer, "two", two, gate_id)
    refused = [r for r in results.values() if r.is_error]
    taken = [structured(r) for r in results.values() if not r.is_error]
    assert (len(refused), len(taken)) == (1, 1), results
    text = assert_curated_error(refused[0], DEFAULT_API_KEY)
    assert "being answered right now" in text or "already answered" in text
    assert taken[0]["status"] == "completed"
    assert sandbox.stats()["resolves"] == 1, "exactly one resume reached the backend"
    assert [status for at, status in request_times(sandbox, ANSWERS) if at >= started] == [200]
