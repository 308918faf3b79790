"""The run store across runbridge processes, through the whole MCP path: runbridge killed (SIGKILL) while it answers
a gate, then a new runbridge on the same state file; and two runbridge processes on one state file answering one
gate at once. runbridge runs as `runbridge serve` over stdio, the official MCP client talks to it, and the sandbox
counts what reached the backend (`resolves`: answers the run took)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import pytest
from faults_harness import (
    MakeSandbox,
    assert_curated_error,
    is_running,
    openwop_config,
    request_times,
    serving_over_stdio,
    structured,
    until,
)
from mcp import Client
from mcp_types import CallToolResult

from runbridge.sandbox import DEFAULT_API_KEY, SandboxServer

pytestmark = pytest.mark.anyio

ANSWERS = "POST /v1/runs/{run_id}/interrupts/{node_id}"


class Runbridge:
    """`runbridge serve` processes on one configuration and one state file (`tmp_path/state.db`)."""

    def __init__(self, tmp_path: Path, sandbox: SandboxServer, key_env: str) -> None:
        self.tmp_path = tmp_path
        self.key_env = key_env
        self.config = openwop_config(
            tmp_path / "runbridge.toml",
            sandbox,
            key_env,
            state_path=str(tmp_path / "state.db"),
            wait_seconds=20,
            progress_interval_seconds=0,
        )

    def serving(self, name: str) -> AbstractAsyncContextManager[tuple[Client, int]]:
        """A new runbridge process (its pid, to kill it) and a client without elicitation connected to it."""
        env = {"PATH": os.environ.get("PATH", ""), self.key_env: DEFAULT_API_KEY}
        return serving_over_stdio(self.tmp_path, name, env, "--config", str(self.config))

    def stderr(self, name: str) -> str:
        return (self.tmp_path / f"{name}.stderr").read_text(encoding="utf-8", errors="replace")


async def _waiting_run(rb: Runbridge) -> tuple[str, str]:
    """A run of approval-demo waiting at its gate, started by a runbridge that then stops: (run id, gate id)."""
    async with rb.serving("starter") as (client, _):
        with anyio.fail_after(20):
            waiting = structured(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
    assert waiting["status"] == "waiting"
    return waiting["run_id"], waiting["waiting_for"]["gate_id"]


async def _killed_while_answering(rb: Runbridge, gate_id: str, reached: Callable[[], bool]) -> list[Any]:
    """A runbridge answering `gate_id`, killed with SIGKILL once `reached()` says the answer got that far; what
    its gates_respond call got (an exception: its server died under it)."""
    got: list[Any] = []

    async def answer(client: Client) -> None:
        try:
            got.append(await client.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"}))
        except Exception as exc:  # the connection to the killed server is gone: that is the point
            got.append(exc)

    with anyio.fail_after(30):
        async with rb.serving("killed") as (client, pid), anyio.create_task_group() as tg:
            tg.start_soon(answer, client)
            await until(reached, within=15)
            os.kill(pid, signal.SIGKILL)
            await until(lambda: not is_running(pid), within=5)
            with anyio.move_on_after(5):
                while not got:
                    await anyio.sleep(0.02)  # polls for the call's end, bounded by move_on_after
            tg.cancel_scope.cancel()
    return got


def _answers_since(sandbox: SandboxServer, started: float) -> list[int]:
    """The statuses of the gate answers that reached the sandbox since `started` (its `time.monotonic()`): a slow
    answer of an earlier test is logged when it is sent, long after it arrived."""
    return [status for at, status in request_times(sandbox, ANSWERS) if at >= started]


def _gate_ids(page: dict[str, Any]) -> list[str]:
    return [g["gate_id"] for g in page["gates"]]


async def test_killed_after_the_backend_took_the_answer_the_gate_is_closed_as_answered_and_the_run_ends(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    rb = Runbridge(tmp_path, sandbox, sandbox_key_env)
    run_id, gate_id = await _waiting_run(rb)
    # The backend takes the answer at once but its reply is late: runbridge is killed before it learns the outcome.
    sandbox.faults.slow(30.0, 1, method="POST", path_prefix=f"/v1/runs/{run_id}/interrupts")
    got = await _killed_while_answering(rb, gate_id, lambda: sandbox.stats()["resolves"] == 1)
    assert not any(isinstance(g, CallToolResult) and not g.is_error for g in got), "its server was killed"

    async with rb.serving("after") as (client, _):
        with anyio.fail_after(20):
            listed = structured(await client.call_tool("gates_list", {}))
            every = structured(await client.call_tool("gates_list", {"include_closed": True}))
            again = await client.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"})
            ended = structured(await client.call_tool("runs_watch", {"run_id": run_id}))
    assert gate_id not in _gate_ids(listed), "the answer took effect: the gate is no longer waiting"
    (settled,) = [g for g in every["gates"] if g["gate_id"] == gate_id]
    assert settled["state"] == "answered"
    assert "already answered" in assert_curated_error(again, DEFAULT_API_KEY)
    assert ended["status"] == "completed", ended
    assert sandbox.stats()["resolves"] == 1, "the run was resumed once"
    assert "Traceback" not in rb.stderr("after")


async def test_killed_before_the_backend_took_the_answer_the_gate_is_listed_again_and_answered(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    rb = Runbridge(tmp_path, sandbox, sandbox_key_env)
    run_id, gate_id = await _waiting_run(rb)
    # The backend refuses the answer for now (503, retry in 3 s): runbridge is killed while it waits to send it again.
    sandbox.faults.burst(503, 1, retry_after=3.0, method="POST", path_prefix=f"/v1/runs/{run_id}/interrupts")
    started = time.monotonic()
    got = await _killed_while_answering(rb, gate_id, lambda: _answers_since(sandbox, started) == [503])
    assert not any(isinstance(g, CallToolResult) and not g.is_error for g in got), "its server was killed"
    assert sandbox.stats()["resolves"] == 0

    async with rb.serving("after") as (client, _):
        with anyio.fail_after(20):
            listed = structured(await client.call_tool("gates_list", {}))
            snapshot = structured(await client.call_tool("runs_get", {"run_id": run_id}))
            done = structured(await client.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"}))
    assert _gate_ids(listed) == [gate_id], "the answer never arrived: the gate waits for a person again"
    assert snapshot["waiting_for"]["gate_id"] == gate_id
    assert done["status"] == "completed", done
    assert sandbox.stats()["resolves"] == 1
    assert _answers_since(sandbox, started) == [503, 200]


async def test_killed_while_answering_runs_watch_asks_the_person_again(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    """The crash leaves the gate `answering`; the next runbridge's runs_watch finds the claim stale, reopens the gate
    (the backend still waits on it) and puts it to the person: here, a client without elicitation gets it as
    waiting_for."""
    sandbox = make_sandbox("openwop")
    rb = Runbridge(tmp_path, sandbox, sandbox_key_env)
    run_id, gate_id = await _waiting_run(rb)
    sandbox.faults.burst(503, 1, retry_after=3.0, method="POST", path_prefix=f"/v1/runs/{run_id}/interrupts")
    started = time.monotonic()
    await _killed_while_answering(rb, gate_id, lambda: _answers_since(sandbox, started) == [503])

    async with rb.serving("after") as (client, _):
        with anyio.fail_after(20):
            watched = structured(await client.call_tool("runs_watch", {"run_id": run_id, "wait_seconds": 1}))
    assert watched["status"] == "waiting"
    assert watched["waiting_for"]["gate_id"] == gate_id
    assert sandbox.stats()["resolves"] == 0


async def test_two_runbridge_processes_answering_one_gate_at_once_resume_the_run_once(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    rb = Runbridge(tmp_path, sandbox, sandbox_key_env)
    run_id, gate_id = await _waiting_run(rb)
    # The answer that gets through is slow to come back, so both calls are in flight together.
    sandbox.faults.slow(1.0, 2, method="POST", path_prefix=f"/v1/runs/{run_id}/interrupts")
    results: dict[str, CallToolResult] = {}
    started = time.monotonic()

    async def answer(name: str, client: Client) -> None:
        results[name] = await client.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"})

    with anyio.fail_after(30):
        async with rb.serving("one") as (one, _), rb.serving("two") as (two, _), anyio.create_task_group() as tg:
            tg.start_soon(answer, "one", one)
            tg.start_soon(answer, "two", two)
    refused = [r for r in results.values() if r.is_error]
    taken = [structured(r) for r in results.values() if not r.is_error]
    assert len(refused) == 1, results
    assert len(taken) == 1, results
    text = assert_curated_error(refused[0], DEFAULT_API_KEY)
    assert "being answered right now" in text or "already answered" in text
    assert taken[0]["status"] == "completed"
    assert sandbox.stats()["resolves"] == 1, "exactly one resume reached the backend"
    assert _answers_since(sandbox, started) == [200]
