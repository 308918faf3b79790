"""A slow synchronous orchagent.io agent call across a runbridge restart, through the whole MCP path: runbridge runs
as `runbridge serve` over stdio on a state file, the official MCP client calls an agent and gets runbridge's own
`call_…` handle (the platform names its run only with its answer); runbridge is killed, or stops, and a new one on
the same state file reads and follows the call by that id, from the workspace run its record leads to."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from faults_harness import serving_over_stdio, structured, write_config
from mcp import Client

from runbridge.core import Profile
from runbridge.sandbox import DEFAULT_API_KEY, SandboxServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEY_ENV = "RUNBRIDGE_RELIABILITY_PLATFORM_KEY"
RUNS = "GET /workspaces/{workspace_id}/runs"


@pytest.fixture
def slow() -> Iterator[SandboxServer]:
    with SandboxServer("platform", speed=0.08) as server:  # a synchronous call takes 5 s
        yield server


class Runbridge:
    """`runbridge serve` processes on one configuration and one state file (`tmp_path/state.db`)."""

    def __init__(self, tmp_path: Path, sandbox: SandboxServer) -> None:
        self.tmp_path = tmp_path
        self.state = tmp_path / "state.db"
        profile = Profile(name="oa", family="platform", base_url=sandbox.base_url, api_key_env=KEY_ENV)
        self.config = write_config(
            tmp_path / "runbridge.toml",
            profile,
            state_path=str(self.state),
            wait_seconds=20,
            progress_interval_seconds=0,
        )

    def serving(self, name: str) -> AbstractAsyncContextManager[tuple[Client, int]]:
        """A new runbridge process and a client without elicitation connected to it, with the process's pid."""
        env = {"PATH": os.environ.get("PATH", ""), KEY_ENV: DEFAULT_API_KEY}
        return serving_over_stdio(self.tmp_path, name, env, "--config", str(self.config))

    def locator(self, run_id: str) -> dict[str, str]:
        with sqlite3.connect(self.state) as db:
            (raw,) = db.execute("SELECT locator FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return json.loads(raw or "{}")


async def _handle(client: Client) -> dict[str, Any]:
    """A synchronous call of a slow agent, returned as a handle after a second."""
    result = await client.call_tool(
        "agents_call",
        {"agent_id": "acme/summarizer", "input": {"text": "across a restart"}, "stream": False, "wait_seconds": 1},
    )
    handle = structured(result)
    assert handle["run_id"].startswith("call_"), handle
    assert handle["status"] in ("queued", "running"), handle
    return handle


def _workspace_run(sandbox: SandboxServer, text: str) -> dict[str, Any]:
    runs = httpx2.get(f"{sandbox.base_url}/workspaces/ws_acme_personal/runs?limit=200", headers=sandbox.headers)
    ids = [r["id"] for r in runs.json()["runs"]]
    for run_id in ids:
        logs = httpx2.get(
            f"{sandbox.base_url}/workspaces/ws_acme_personal/runs/{run_id}/logs", headers=sandbox.headers
        ).json()
        if logs["input_data"] == {"text": text}:
            return logs
    raise AssertionError(f"no workspace run of input {text!r}")


async def test_a_call_whose_runbridge_was_killed_before_its_answer_is_read_and_followed_after_a_restart(
    tmp_path: Path, slow: SandboxServer
) -> None:
    rb = Runbridge(tmp_path, slow)
    with anyio.fail_after(60):
        async with rb.serving("first") as (client, pid):
            handle = await _handle(client)
            os.kill(pid, signal.SIGKILL)  # the platform's answer (and its X-Run-Id) never reaches this runbridge
        assert set(rb.locator(handle["run_id"])) == {"agent", "sent_at", "input_digest"}
        async with rb.serving("second") as (client, _):
            running = structured(await client.call_tool("runs_get", {"run_id": handle["run_id"]}))
            watched = structured(await client.call_tool("runs_watch", {"run_id": handle["run_id"], "wait_seconds": 20}))
            ended = structured(await client.call_tool("runs_get", {"run_id": handle["run_id"]}))
    workspace = _workspace_run(slow, "across a restart")
    # The workspace run's own status: running while the agent works (a slow restart may only see it ended).
    assert running["run"]["status"] in ("running", "completed"), running
    assert running["run"]["details"]["workspace_run_id"] == workspace["run_id"]
    assert watched["status"] == "completed", watched
    assert watched["outputs"] == workspace["output_data"]
    assert ended["run"]["status"] == "completed"
    assert rb.locator(handle["run_id"])["workspace_run"] == workspace["run_id"], "stored once found"


async def test_a_call_answered_before_runbridge_stopped_is_read_by_its_workspace_run_after_a_restart(
    tmp_path: Path, slow: SandboxServer
) -> None:
    rb = Runbridge(tmp_path, slow)
    with anyio.fail_after(60):
        async with rb.serving("first") as (client, _):
            handle = await _handle(client)
            watched = structured(await client.call_tool("runs_watch", {"run_id": handle["run_id"], "wait_seconds": 20}))
            structured(await client.call_tool("runs_get", {"run_id": handle["run_id"]}))
        named = rb.locator(handle["run_id"])
        lists_before = slow.stats()["requests"].get(RUNS, 0)
        async with rb.serving("second") as (client, _):
            after = structured(await client.call_tool("runs_get", {"run_id": handle["run_id"]}))
    lists_after = slow.stats()["requests"].get(RUNS, 0)
    workspace = _workspace_run(slow, "across a restart")
    assert watched["status"] == "completed", watched
    assert named["workspace_run"] == workspace["run_id"]
    assert after["run"]["status"] == "completed"
    assert after["run"]["outputs"] == workspace["output_data"]
    assert after["run"]["details"]["workspace_run_id"] == workspace["run_id"]
    assert lists_after == lists_before, "read by its workspace run, not searched for"
