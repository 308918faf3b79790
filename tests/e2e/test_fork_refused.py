"""runs_fork on a host that refuses fork, through the official MCP client in both eras: a tool error that says the
host cannot fork, that the source run is untouched, and what to do instead; the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from runbridge.core import Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def refusing_sandbox() -> Iterator[SandboxServer]:
    """A host that answers fork 501 `not_implemented` although its discovery advertises fork."""
    variant = {"fork_refusal": 501, "discovery_says_fork": True}
    with SandboxServer("openwop", variant=variant, keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def refusing_settings(settings: Settings, sandbox: SandboxServer, refusing_sandbox: SandboxServer) -> Settings:
    assert refusing_sandbox.api_key == sandbox.api_key  # the key env var set by `settings` serves both
    profile = settings.profiles["sandbox"].model_copy(update={"base_url": refusing_sandbox.base_url})
    return settings.model_copy(update={"profiles": {"sandbox": profile}})


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_runs_fork_on_a_host_that_refuses_fork_is_an_actionable_tool_error(
    mode: str, connect: Any, transcript: Any, refusing_settings: Settings, refusing_sandbox: SandboxServer
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode, server_settings=refusing_settings) as client:
            source = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
            run_id = source["run_id"]
            refused = await transcript.refused(client, "runs_fork", {"run_id": run_id, "from_seq": 1})
            again = await transcript.ok(client, "runs_get", {"run_id": run_id})
            listed = await transcript.ok(client, "runs_list")
    assert source["status"] == "completed"
    assert f"This OpenWOP host refused to fork run {run_id}: it does not support forking runs" in refused
    assert "(HTTP 501, not_implemented)" in refused
    assert "although its discovery document advertises fork" in refused
    assert f"Run {run_id} is unchanged." in refused
    assert "Do not retry runs_fork on this profile" in refused
    assert "start a new run with runs_start (same target and inputs)" in refused
    assert again["run"]["status"] == "completed", "the source run is untouched"
    assert [r["run_id"] for r in listed["runs"]] == [run_id], "no fork was recorded"
    assert refusing_sandbox.stats()["forks"] == 0
