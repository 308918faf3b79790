"""Run resources kept up to date: a client subscribed to `runbridge://{profile}/runs/{run_id}` hears that it changed
as the run's events arrive (coalesced, and once more at its end), in both eras, through the official MCP client; the
backend watch behind it ends with the last subscriber, and never moves the cursor the model reads from."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import ResourceUpdatedNotification

from runbridge.core import Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

LONG_DEMO_EVENTS = 55  # long-demo's steps; each is at least one event


class Updates:
    """The `notifications/resources/updated` a 2025 client received, by URI."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self._arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.uris.append(message.params.uri)
            self._arrived.set()

    async def next(self) -> None:
        await self._arrived.wait()
        self._arrived = anyio.Event()


async def _status(client: Client, uri: str) -> str:
    read = await client.read_resource(uri)
    (content,) = read.contents
    return json.loads(content.text)["run"]["status"]  # type: ignore[union-attr]


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    with anyio.fail_after(within):
        while not condition():
            await anyio.sleep(0.02)  # polls the sandbox's gauge, which lives in another thread


def _open_streams(sandbox: SandboxServer) -> int:
    return int(sandbox.stats()["open_streams"])


async def _started(client: Client) -> tuple[str, str]:
    result = await client.call_tool("runs_start", {"target_id": "long-demo", "wait_seconds": 0})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    run_id = result.structured_content["run_id"]
    return run_id, f"runbridge://sandbox/runs/{run_id}"


async def test_a_2025_subscriber_hears_of_each_change_until_the_run_ends_and_the_cursor_is_untouched(
    slow_settings: Settings, slow_sandbox: SandboxServer
) -> None:
    updates = Updates()
    with anyio.fail_after(20):
        async with Client(build_server(slow_settings), mode="legacy", message_handler=updates) as client:
            capabilities = client.session.server_capabilities  # type: ignore[union-attr]
            assert capabilities is not None
            assert capabilities.resources is not None
            assert capabilities.resources.subscribe is True
            run_id, uri = await _started(client)
            await client.subscribe_resource(uri)  # pyright: ignore[reportDeprecated]
            status = "running"
            while status != "completed":
                await updates.next()
                status = await _status(client, uri)
            await _until(lambda: _open_streams(slow_sandbox) == 0)  # the watch ended with the run
            watched = await client.call_tool("runs_watch", {"run_id": run_id})
    assert set(updates.uris) == {uri}
    assert 2 <= len(updates.uris) < LONG_DEMO_EVENTS, "a change is told at most every interval, not per event"
    assert watched.structured_content is not None
    report = watched.structured_content
    assert report["status"] == "completed"
    assert report["events_seen"] >= LONG_DEMO_EVENTS, "the subscription did not move the model's cursor"


async def test_unsubscribing_ends_the_backend_watch_while_the_run_goes_on(
    slow_settings: Settings, slow_sandbox: SandboxServer
) -> None:
    with anyio.fail_after(20):
        async with Client(build_server(slow_settings), mode="legacy") as client:
            waiting = await client.call_tool("runs_start", {"target_id": "approval-demo"})  # waits at its gate
            assert waiting.structured_content is not None
            uri = f"runbridge://sandbox/runs/{waiting.structured_content['run_id']}"
            await _until(lambda: _open_streams(slow_sandbox) == 0)
            await client.subscribe_resource(uri)  # pyright: ignore[reportDeprecated]
            await _until(lambda: _open_streams(slow_sandbox) == 1)  # following it
            await client.unsubscribe_resource(uri)  # pyright: ignore[reportDeprecated]
            await _until(lambda: _open_streams(slow_sandbox) == 0)
            assert await _status(client, uri) == "waiting", "unsubscribing stops the following, not the run"


async def test_a_2026_listener_hears_of_the_run_it_asked_for_until_it_ends(slow_settings: Settings) -> None:
    with anyio.fail_after(20):
        async with Client(build_server(slow_settings)) as client:
            _, uri = await _started(client)
            heard: list[str] = []
            async with client.listen(resource_subscriptions=[uri]) as events:
                status = "running"
                async for event in events:
                    heard.append(getattr(event, "uri", ""))
                    status = await _status(client, uri)
                    if status == "completed":
                        break
    assert status == "completed"
    assert set(heard) == {uri}
    assert len(heard) < LONG_DEMO_EVENTS


async def test_subscribing_on_an_unknown_profile_is_refused_and_other_resources_are_accepted(
    slow_settings: Settings,
) -> None:
    async with Client(build_server(slow_settings), mode="legacy") as client:
        with pytest.raises(MCPError) as refused:
            await client.subscribe_resource("runbridge://nowhere/runs/run_1")  # pyright: ignore[reportDeprecated]
        await client.subscribe_resource("runbridge://sandbox/gates")  # pyright: ignore[reportDeprecated]
    assert "nowhere" in refused.value.error.message
    assert "profile" in refused.value.error.message
