"""The server runner: sync and async use, fast shutdown with open streams, the CLI entry, variants by dict."""

from __future__ import annotations

import threading

import anyio
import httpx2
import pytest
from sandbox_wire import client_for, collect, frames, start_run

from runbridge.sandbox import SandboxServer, run_sandbox


def test_the_sync_context_manager_serves_on_an_ephemeral_loopback_port() -> None:
    with SandboxServer() as sb:
        assert sb.base_url.startswith("http://127.0.0.1:")
        assert not sb.base_url.endswith(":0")
        run = sb.call(sb.engine.start_run, "quick-demo")
        with httpx2.Client(base_url=sb.base_url, headers=sb.headers) as client:
            snapshot = client.get(f"/v1/runs/{run.id}").json()
        assert snapshot["workflowId"] == "quick-demo"
        assert sb.stats()["runs_created"] == 1


@pytest.mark.anyio
async def test_shutdown_is_fast_and_ends_open_streams() -> None:
    async with SandboxServer(keepalive_seconds=0.05) as sb, client_for(sb) as client:
        run_id = await start_run(client, "approval-demo")
        ended = anyio.Event()
        suspended = anyio.Event()

        async def watch() -> None:
            try:
                async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
                    async for frame in frames(response):
                        if frame.event == "node.suspended":
                            suspended.set()
            except httpx2.TransportError:
                pass  # the server went away mid-stream, as it should
            ended.set()

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                await suspended.wait()
                started = anyio.current_time()
                await anyio.to_thread.run_sync(sb.stop)
                stopped_in = anyio.current_time() - started
                await ended.wait()
    assert stopped_in < 1.0


@pytest.mark.anyio
async def test_a_variant_can_be_a_dict_of_overrides() -> None:
    variant = {"base": "in-memory-host", "first_seq": 0}
    async with SandboxServer(variant=variant) as sb, client_for(sb) as client:
        run_id = await start_run(client, "quick-demo")
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            received = await collect(response)
    assert received[0].id == "0"
    assert "seq" in received[0].json()


def test_unknown_families_and_variants_are_refused() -> None:
    with pytest.raises(ValueError, match="family"):
        SandboxServer("nope").start()
    with pytest.raises(ValueError, match="variant"):
        SandboxServer(variant="nope").start()


def test_run_sandbox_prints_where_to_connect_and_stops_on_request() -> None:
    lines: list[str] = []
    printed = threading.Event()
    stop = threading.Event()

    def capture(line: str) -> None:
        lines.append(line)
        printed.set()

    worker = threading.Thread(target=run_sandbox, kwargs={"print_fn": capture, "speed": 0, "stop": stop})
    worker.start()
    try:
        assert printed.wait(5)
        url = lines[0].rsplit(" ", 1)[-1]
        assert lines[0].startswith("runbridge sandbox: openwop at http://127.0.0.1:")
        assert httpx2.get(f"{url}/.well-known/openwop").status_code == 200
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert any("approval-demo" in line for line in lines)
