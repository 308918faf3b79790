"""A Synapse v1 run whose stream is cut between `orchestration_complete` and the run-level `final`, through the
official MCP client: `runs_start` still reports the failed run with the reason the stream showed, and `runs_get`
agrees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_E2E_SYNAPSE_CUT_KEY"
REASON = "Fetching the dataset failed: the upstream API answered 503 three times."


@pytest.fixture(scope="module")
def synapse() -> Iterator[SandboxServer]:
    with SandboxServer("orchestrations", keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def settings(synapse: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, synapse.api_key)
    profile = Profile(name="synapse", family="orchestrations", base_url=synapse.base_url, api_key_env=KEY_ENV)
    return Settings(profiles={"synapse": profile}, state_path=":memory:", wait_seconds=15, progress_interval_seconds=0)


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_failed_runs_reason_survives_a_cut_before_the_final_summary(
    mode: str, connect: Any, synapse: SandboxServer
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode) as client:
            whole = _structured(await client.call_tool("runs_start", {"target_id": "failing-demo"}))
            emitted = [t for _, t in synapse.context.stats.emitted_events(whole["run_id"])]
            assert emitted[-2:] == ["orchestration_complete", "final"], emitted
            plan = {"_sandbox": {"drop_after": [len(emitted) - 1]}}
            drops = synapse.stats()["stream_drops"]
            cut = _structured(await client.call_tool("runs_start", {"target_id": "failing-demo", "inputs": plan}))
            snapshot = _structured(await client.call_tool("runs_get", {"run_id": cut["run_id"]}))
    assert synapse.stats()["stream_drops"] == drops + 1, "the stream was cut"
    assert (whole["status"], whole["error"]) == ("failed", REASON)
    assert (cut["status"], cut["done"], cut["source"], cut["error"]) == ("failed", True, "stream", REASON)
    assert (snapshot["run"]["status"], snapshot["run"]["error"]) == ("failed", REASON)
    history = snapshot["run"]["details"]["step_history"]
    assert [(h["step_id"], h["status"]) for h in history] == [("prepare", "completed"), ("fetch", "failed")]
