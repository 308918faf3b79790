"""The keys of an orchagent.io profile never reach the model, the run store or the logs: the API key, and the LLM key
runbridge sends with a call (read from the variable the profile names) even when a careless agent echoes it in its
output, its run's logs, or a progress event."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.e2e.conftest import Transcript

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_E2E_PLATFORM_KEY"
LLM_ENV = "RUNBRIDGE_E2E_PLATFORM_LLM"
LLM_KEY = "sk-llm-e2e-0123456789abcdef"


@pytest.fixture
def oa() -> Iterator[SandboxServer]:
    with SandboxServer("platform") as server:
        yield server


@pytest.fixture
def settings(oa: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv(KEY_ENV, oa.api_key)
    monkeypatch.setenv(LLM_ENV, LLM_KEY)
    llm = {"provider": "openai", "api_key_env": LLM_ENV}
    profile = Profile(
        name="oa", family="platform", base_url=oa.base_url, api_key_env=KEY_ENV, options={"llm_credentials": llm}
    )
    return Settings(profiles={"oa": profile}, state_path=str(tmp_path / "state.db"), progress_interval_seconds=0)


async def test_no_key_reaches_the_model_the_store_or_the_logs(
    connect: Any, oa: SandboxServer, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    transcript = Transcript(oa.api_key, LLM_KEY)
    caplog.set_level(logging.DEBUG)
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            report = await transcript.ok(
                client,
                "agents_call",
                {"agent_id": "acme/byok-writer", "input": {"topic": "tides", "echo_key": True}},
                progress_callback=transcript.progress(),
            )
            await transcript.ok(client, "runs_get", {"run_id": report["run_id"]})
            await transcript.ok(client, "runs_events", {"run_id": report["run_id"]})
            await transcript.ok(client, "agents_get", {"agent_id": "acme/byok-writer"})
            await transcript.refused(
                client, "agents_call", {"agent_id": "acme/byok-writer", "input": {"topic": "x", "fail": True}}
            )
    assert report["status"] == "completed"
    assert report["outputs"]["echoed"] == "my key is ***", "the echoed key is scrubbed"
    assert report["outputs"]["draft"] == "A draft about tides."
    transcript.assert_clean()
    store = Path(str(settings.state_path)).read_bytes()
    for path in Path(str(settings.state_path)).parent.iterdir():
        store += path.read_bytes()
    assert LLM_KEY.encode() not in store
    assert oa.api_key.encode() not in store
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert LLM_KEY not in logged
    assert oa.api_key not in logged
