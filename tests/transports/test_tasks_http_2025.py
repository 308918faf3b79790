"""The 2025-11-25 task methods by hand in raw JSON-RPC over streamable HTTP on a real loopback socket: a gate makes
the task `input_required` (strictly: the flow guarantees it) until `gates_respond` answers it; `tasks/cancel`
cancels the backend run; `tasks/list` pages with `nextCursor`; a ttl beyond 30 days is cut to 30 days."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from tests.raw_jsonrpc import RawSession

from runbridge.cli.serve import http_app
from runbridge.core import Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import tasks_legacy

pytestmark = pytest.mark.anyio

Serve = Callable[[Any], str]
Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
DAY_MS = 24 * 3600 * 1000


@asynccontextmanager
async def session(url: str) -> AsyncIterator[Call]:
    """One 2025 session over HTTP; `call(method, params)` is one numbered request and its JSON-RPC reply."""
    async with httpx2.AsyncClient(timeout=30) as http:
        raw = RawSession(http, url)
        await raw.open()
        yield raw.call


async def _as_task(call: Call, target: str, task: dict[str, Any] | None = None) -> dict[str, Any]:
    params = {"name": "runs_start", "arguments": {"target_id": target}, "task": task or {}}
    return (await call("tools/call", params))["result"]["task"]


async def _until_input_required(call: Call, task_id: str) -> dict[str, Any]:
    """The task's status until it is `input_required`; fails if it ends, or never gets there, first."""
    with anyio.fail_after(20):
        while True:
            got = (await call("tasks/get", {"taskId": task_id}))["result"]
            assert got["status"] in ("working", "input_required"), got
            if got["status"] == "input_required":
                return got
            await anyio.sleep(0.05)


async def test_a_2025_task_is_input_required_at_its_gate_until_gates_respond_answers_it(
    settings: Settings, serve_http: Serve
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    with anyio.fail_after(40):
        async with session(url) as call:
            task_id = (await _as_task(call, "approval-demo"))["taskId"]
            waiting = await _until_input_required(call, task_id)
            gates = (await call("tools/call", {"name": "gates_list", "arguments": {}}))["result"]["structuredContent"]
            [gate] = [g for g in gates["gates"] if g["run_id"] == task_id.split("/")[1]]
            assert waiting["statusMessage"] == gate["prompt"]
            again = (await call("tasks/get", {"taskId": task_id}))["result"]
            assert again["status"] == "input_required", "nobody answered: the task still waits"
            args = {"gate_id": gate["gate_id"], "decision": "accept", "values": {"decision": "accept"}}
            answered = (await call("tools/call", {"name": "gates_respond", "arguments": args}))["result"]
            assert answered["isError"] is False, answered
            result = (await call("tasks/result", {"taskId": task_id}))["result"]
            final = (await call("tasks/get", {"taskId": task_id}))["result"]
    assert result["structuredContent"]["status"] == "completed", result
    assert result["structuredContent"]["decision"] == "accepted"
    assert final["status"] == "completed"


async def test_tasks_cancel_over_http_cancels_the_backend_run(
    settings: Settings, sandbox: SandboxServer, serve_http: Serve
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    with anyio.fail_after(40):
        async with session(url) as call:
            task_id = (await _as_task(call, "approval-demo"))["taskId"]
            await _until_input_required(call, task_id)
            cancelled = (await call("tasks/cancel", {"taskId": task_id}))["result"]
            got = (await call("tasks/get", {"taskId": task_id}))["result"]
            result = (await call("tasks/result", {"taskId": task_id}))["result"]
    assert cancelled["status"] == "cancelled"
    assert got["status"] == "cancelled"
    assert result["isError"] is True
    async with httpx2.AsyncClient(base_url=sandbox.base_url, timeout=10) as http:
        run_id = task_id.split("/")[1]
        run = (await http.get(f"/v1/runs/{run_id}", headers={"Authorization": f"Bearer {sandbox.api_key}"})).json()
    assert run["status"] == "cancelled"


async def test_tasks_list_pages_on_the_wire_with_next_cursor(
    settings: Settings, serve_http: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks_legacy, "list_tasks", functools.partial(tasks_legacy.list_tasks, limit=2))
    url = serve_http(http_app(settings, host="127.0.0.1"))
    with anyio.fail_after(40):
        async with session(url) as call:
            made = [(await _as_task(call, "quick-demo"))["taskId"] for _ in range(3)]
            pages: list[list[str]] = []
            params: dict[str, Any] = {}
            while True:
                page = (await call("tasks/list", params))["result"]
                pages.append([t["taskId"] for t in page["tasks"]])
                if "nextCursor" not in page:
                    break
                params = {"cursor": page["nextCursor"]}
    assert [len(p) for p in pages] == [2, 1]
    assert sorted(t for p in pages for t in p) == sorted(made)


async def test_a_2025_ttl_beyond_30_days_is_cut_to_30_days(settings: Settings, serve_http: Serve) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    with anyio.fail_after(40):
        async with session(url) as call:
            created = await _as_task(call, "quick-demo", {"ttl": 90 * DAY_MS})
            got = (await call("tasks/get", {"taskId": created["taskId"]}))["result"]
            default = await _as_task(call, "quick-demo")
    assert created["ttl"] == 30 * DAY_MS
    assert got["ttl"] == 30 * DAY_MS
    assert default["ttl"] == 7 * DAY_MS
