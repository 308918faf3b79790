"""The server's background work ends before the run store closes: work that finishes in a shielded section when
runbridge stops (a task recording its end, a claim given up) still reaches the store, and nothing fails on a
closed store at shutdown."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from runbridge.core import Settings
from runbridge.server import Lifecycle, build_server

pytestmark = pytest.mark.anyio


async def test_background_work_finishing_as_runbridge_stops_still_reaches_the_run_store(settings: Settings) -> None:
    lifecycle = Lifecycle()
    reached: list[object] = []

    async def background() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.2)  # still at work after the server's task group was cancelled
                reached.append(await lifecycle.app.registry.get_task("no-such-task") if lifecycle.app else "no app")

    with anyio.fail_after(20):
        async with Client(build_server(settings, lifecycle=lifecycle)) as client:
            await client.list_tools()
            assert lifecycle.app is not None
            assert lifecycle.app.tasks is not None
            lifecycle.app.tasks.start_soon(background)
            await anyio.sleep(0.05)
    assert reached == [None]  # the store answered: it was still open
