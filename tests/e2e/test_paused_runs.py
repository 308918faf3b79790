"""A run paused by an operator (OpenWOP's run-level `:pause`, which the sandbox serves as the Python reference host
does): runs_watch reports it at once instead of waiting out its time, runs_get says paused and `next` says what
that means, and once resumed the run is followed to its end."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx2 as httpx
import pytest

from runbridge.core import Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio


def _operator(sandbox: SandboxServer, run_id: str, action: str) -> int:
    """The operator's `:pause` / `:resume`, straight to the host."""
    response = httpx.post(
        f"{sandbox.base_url}/v1/runs/{run_id}:{action}",
        json={},
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
        timeout=10,
    )
    return response.status_code


async def _paused_on_host(sandbox: SandboxServer, run_id: str) -> None:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {sandbox.api_key}"}) as http:
        while (await http.get(f"{sandbox.base_url}/v1/runs/{run_id}")).json()["status"] != "paused":
            await anyio.sleep(0.02)  # polls the host, bounded by the caller's deadline


async def test_a_paused_run_is_reported_at_once_and_followed_again_once_resumed(
    connect: Any, transcript: Any, slow_settings: Settings, slow_sandbox: SandboxServer
) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy", server_settings=slow_settings) as client:
            handle = await transcript.ok(client, "runs_start", {"target_id": "long-demo", "wait_seconds": 0.1})
            run_id = handle["run_id"]
            assert _operator(slow_sandbox, run_id, "pause") == 202
            await _paused_on_host(slow_sandbox, run_id)
            for _ in range(2):  # the pause read from the stream, then the pause runbridge recorded
                began = time.monotonic()
                watched = await transcript.ok(client, "runs_watch", {"run_id": run_id, "wait_seconds": 15})
                assert time.monotonic() - began < 5, "runs_watch waited out its time on a paused run"
                assert watched["status"] == "paused"
                assert not watched["done"]
                assert "paused" in watched["note"]
                assert "resumed" in watched["next"]
            snapshot = await transcript.ok(client, "runs_get", {"run_id": run_id})
            assert snapshot["run"]["status"] == "paused"
            assert "paused" in snapshot["next"]
            assert _operator(slow_sandbox, run_id, "resume") == 202
            ended = await transcript.ok(client, "runs_watch", {"run_id": run_id, "wait_seconds": 15})
    assert ended["status"] == "completed"
    assert _operator(slow_sandbox, run_id, "resume") == 409, "a run that is not paused cannot be resumed"
