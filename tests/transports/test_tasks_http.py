"""Runs as MCP tasks over streamable HTTP on a real loopback socket: the 2026 extension through the official Python
client (a gate answered with `tasks/update`, then polled to its end), and the 2025 task methods by hand in raw
JSON-RPC on one session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from examples._tasks import TaskExtension, until, update
from mcp import Client
from tests.raw_jsonrpc import RawSession

from runbridge.cli.serve import http_app
from runbridge.core import Settings

pytestmark = pytest.mark.anyio

Serve = Callable[[Any], str]


async def test_a_2026_task_over_http_is_answered_and_polled_to_its_end(settings: Settings, serve_http: Serve) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with Client(url, extensions=[tasks]) as client:
            assert client.protocol_version == "2026-07-28"
            await client.call_tool("runs_start", {"target_id": "approval-demo"})
            task_id = tasks.created[0].task_id
            waiting = await until(client.session, task_id, "input_required")
            assert waiting.input_requests is not None
            [key] = waiting.input_requests
            await update(client.session, task_id, {key: {"action": "accept", "content": {"decision": "accept"}}})
            done = await until(client.session, task_id, "completed", "failed")
    assert done.status == "completed", done
    assert done.result is not None
    assert done.result["structuredContent"]["decision"] == "accepted"


async def test_the_2025_task_methods_by_hand_over_http(settings: Settings, serve_http: Serve) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    with anyio.fail_after(40):
        async with httpx2.AsyncClient(timeout=30) as http:
            raw = RawSession(http, url)
            hello = await raw.open()
            assert hello["result"]["capabilities"]["tasks"]["list"] == {}
            call = raw.call

            params = {"name": "runs_start", "arguments": {"target_id": "quick-demo"}, "task": {}}
            task = (await call("tools/call", params))["result"]["task"]
            result = (await call("tasks/result", {"taskId": task["taskId"]}))["result"]
            assert result["structuredContent"]["status"] == "completed"
            assert (await call("tasks/get", {"taskId": task["taskId"]}))["result"]["status"] == "completed"
            listed = (await call("tasks/list", {}))["result"]["tasks"]
            assert [t["taskId"] for t in listed] == [task["taskId"]]
