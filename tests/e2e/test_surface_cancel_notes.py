"""runs_cancel's note says what happened: cancelled now, or cancelled already (a second call changes nothing)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from runbridge.core import Settings

pytestmark = pytest.mark.anyio


async def test_cancelling_twice_says_the_second_time_that_the_run_was_already_cancelled(
    connect: Any, transcript: Any, slow_settings: Settings
) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy", server_settings=slow_settings) as client:
            handle = await transcript.ok(client, "runs_start", {"target_id": "long-demo", "wait_seconds": 0.2})
            first = await transcript.ok(client, "runs_cancel", {"run_id": handle["run_id"], "reason": "test"})
            second = await transcript.ok(client, "runs_cancel", {"run_id": handle["run_id"]})
    assert handle["status"] == "running"
    assert first["status"] == "cancelled"
    assert first["note"] == "The run is cancelled."
    assert second["status"] == "cancelled"
    assert second["note"] == "The run was already cancelled; nothing changed."
