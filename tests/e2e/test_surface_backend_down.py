"""A backend that stops answering while a run is followed: runs_watch says so, instead of a handle claiming the run
is still running, and keeps the cursor for when the backend is back."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_E2E_DOWN_KEY"


async def test_watching_a_run_whose_backend_went_away_is_an_error_saying_so(
    connect: Any, transcript: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = SandboxServer("openwop", keepalive_seconds=0.2, speed=0.5).start()  # long-demo: about 20 s
    try:
        monkeypatch.setenv(KEY_ENV, sandbox.api_key)
        profile = Profile(
            name="doomed",
            family="openwop",
            base_url=sandbox.base_url,
            api_key_env=KEY_ENV,
            workflows=["long-demo"],
            max_retries=0,
            connect_timeout=1,
        )
        doomed = settings.model_copy(update={"profiles": {"doomed": profile}})
        with anyio.fail_after(30):
            async with connect(mode="legacy", server_settings=doomed) as client:
                handle = await transcript.ok(client, "runs_start", {"target_id": "long-demo", "wait_seconds": 0.5})
                await anyio.to_thread.run_sync(sandbox.stop)
                text = await transcript.refused(client, "runs_watch", {"run_id": handle["run_id"], "wait_seconds": 1})
                listed = await transcript.ok(client, "runs_list")
    finally:
        sandbox.stop()
    assert handle["status"] == "running"
    assert f"No event arrived while following run {handle['run_id']!r}, and the backend does not answer" in text
    assert f"not reachable at {profile.base_url}" in text
    assert "call runs_watch again once the backend is back" in text
    assert listed["runs"][0]["run_id"] == handle["run_id"]
