"""A subscribed run resource is told of its changes over the real transports, in both eras: `runbridge serve` over
stdio, and the streamable-HTTP app on a loopback socket. The run waits at its gate; once the gate is answered, the
subscriber hears of it and reads the run completed."""

from __future__ import annotations

import json
import sys
import tempfile
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import ResourceUpdatedNotification
from transport_harness import ERAS, KEY_ENV, RUNBRIDGE, SECRET, structured

from runbridge.cli.serve import http_app
from runbridge.core import Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio


class Updates:
    def __init__(self) -> None:
        self.uris: list[str] = []
        self.arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.uris.append(message.params.uri)
            self.arrived.set()


async def _status(client: Client, uri: str) -> str:
    (content,) = (await client.read_resource(uri)).contents
    return json.loads(content.text)["run"]["status"]  # type: ignore[union-attr]


async def _waiting_run(client: Client) -> tuple[str, str]:
    """A run waiting at its gate (the client has no elicitation): its URI and gate id."""
    report = structured(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
    assert report["status"] == "waiting", report
    return f"runbridge://sandbox/runs/{report['run_id']}", report["waiting_for"]["gate_id"]


async def _answer(client: Client, gate_id: str) -> None:
    answer = {"gate_id": gate_id, "decision": "accept", "values": {"decision": "accept"}, "wait_seconds": 0}
    structured(await client.call_tool("gates_respond", answer))


async def _follow_the_gate_answered(client: Client, mode: str, updates: Updates) -> list[str]:
    """Subscribe to a waiting run, answer its gate, and return the URIs heard of until it read completed."""
    uri, gate_id = await _waiting_run(client)
    if mode == "legacy":
        await client.subscribe_resource(uri)  # pyright: ignore[reportDeprecated]
        await _answer(client, gate_id)
        while await _status(client, uri) != "completed":
            await updates.arrived.wait()
            updates.arrived = anyio.Event()
        return updates.uris
    heard: list[str] = []
    async with client.listen(resource_subscriptions=[uri]) as events:
        await _answer(client, gate_id)
        async for event in events:
            heard.append(getattr(event, "uri", ""))
            if await _status(client, uri) == "completed":
                break
    return heard


def _stdio(config_file: Path, errlog: Any) -> AbstractAsyncContextManager[Any]:
    params = StdioServerParameters(
        command=sys.executable, args=[*RUNBRIDGE[1:], "serve", "--config", str(config_file)], env={KEY_ENV: SECRET}
    )
    return stdio_client(params, errlog=errlog)


@pytest.mark.parametrize("mode", ERAS)
async def test_over_stdio_a_subscriber_hears_its_run_change_after_the_gate_is_answered(
    mode: str, config_file: Path
) -> None:
    updates = Updates()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog, anyio.fail_after(30):
        async with Client(_stdio(config_file, errlog), mode=mode, message_handler=updates) as client:
            heard = await _follow_the_gate_answered(client, mode, updates)
        errlog.seek(0)
        assert "Traceback" not in errlog.read()
    assert heard
    assert len(set(heard)) == 1
    assert heard[0].startswith("runbridge://sandbox/runs/")


@pytest.mark.parametrize("mode", ERAS)
async def test_over_streamable_http_a_subscriber_hears_its_run_change_after_the_gate_is_answered(
    mode: str, settings: Settings, serve_http: Any
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    updates = Updates()
    with anyio.fail_after(30):
        async with Client(url, mode=mode, message_handler=updates) as client:
            heard = await _follow_the_gate_answered(client, mode, updates)
    assert heard
    assert len(set(heard)) == 1


async def test_a_2025_http_session_that_ends_ends_its_subscriptions_and_their_backend_watch(
    settings: Settings, serve_http: Any, sandbox: SandboxServer
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))

    def open_streams() -> int:
        return int(sandbox.stats()["open_streams"])

    async def until(condition: Any) -> None:
        while not condition():
            await anyio.sleep(0.02)  # polls the sandbox's gauge, which lives in another thread

    with anyio.fail_after(30):
        await until(lambda: open_streams() == 0)
        async with Client(url, mode="legacy") as client:
            uri, _ = await _waiting_run(client)
            await client.subscribe_resource(uri)  # pyright: ignore[reportDeprecated]
            await until(lambda: open_streams() == 1)
        # The client ended its session; the server goes on serving, and the run goes on waiting.
        await until(lambda: open_streams() == 0)
