"""The graceful stop's first step: `App.stop_calls` ends the tool calls in progress (their clean-up runs: that is
where a watch saves its cursor), each ends with an error saying runbridge is stopping, and later calls are refused
the same way; a call cancelled by its client is still a plain cancellation."""

from __future__ import annotations

import anyio
import pytest

from runbridge.bridge.app import App
from runbridge.bridge.calls import STOPPING
from runbridge.core.config import Settings
from runbridge.core.errors import RunbridgeError

pytestmark = pytest.mark.anyio


async def test_stop_calls_ends_the_calls_in_progress_after_their_clean_up_and_refuses_new_ones() -> None:
    app = App.open(Settings(state_path=":memory:"))
    started, cleaned, outcomes = anyio.Event(), [], []

    async def call() -> None:
        try:
            with app.calls.serving():
                try:
                    started.set()
                    await anyio.sleep(30)
                finally:
                    cleaned.append(True)  # where a watch saves its cursor
        except RunbridgeError as exc:
            outcomes.append(str(exc))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(call)
            await started.wait()
            await app.calls.stop(1.0)
    assert cleaned == [True]
    assert outcomes == [STOPPING + "."]
    assert "runs_watch" in outcomes[0]
    with pytest.raises(RunbridgeError, match="runbridge is stopping"), app.calls.serving():
        pass
    await app.registry.aclose()


async def test_a_call_its_client_cancels_is_a_cancellation_not_a_stop() -> None:
    app = App.open(Settings(state_path=":memory:"))
    with anyio.CancelScope() as outer:
        with app.calls.serving():
            outer.cancel()
            await anyio.sleep(1)
    assert outer.cancelled_caught
    with app.calls.serving():  # not stopping: calls still run
        pass
    await app.registry.aclose()
