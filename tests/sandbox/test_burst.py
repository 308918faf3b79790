"""The burst run option: N stamped events at a steady rate, or as fast as the loop allows, in order, on the wire."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import httpx2
import pytest

from runbridge.sandbox import Engine, EngineEvent, SandboxServer

pytestmark = pytest.mark.anyio


async def _burst(engine: Engine, emit: dict[str, float]) -> list[EngineEvent]:
    run = engine.start_run("bench-stream", {"_sandbox": {"emit": emit}})
    with anyio.fail_after(10):
        return [e async for e in engine.events_after(run.id)]


async def test_a_burst_emits_every_tick_in_order_each_stamped_with_its_emit_time() -> None:
    before = time.time()
    async with Engine() as engine:
        events = await _burst(engine, {"count": 500})
    assert [e.type for e in events] == ["run.started", *["tool.called"] * 500, "run.completed"]
    ticks = [e.payload["args"] for e in events[1:-1]]
    assert [t["n"] for t in ticks] == list(range(1, 501))
    stamps = [t["emittedAt"] for t in ticks]
    assert stamps == sorted(stamps)
    assert before <= stamps[0] <= stamps[-1] <= time.time()


async def test_a_paced_burst_keeps_its_rate() -> None:
    async with Engine() as engine:
        events = await _burst(engine, {"count": 20, "rate": 200})
    stamps = [e.payload["args"]["emittedAt"] for e in events[1:-1]]
    assert stamps[-1] - stamps[0] >= 19 / 200 * 0.9  # on schedule, never ahead of it


def test_a_burst_reaches_the_wire_whole(make_sandbox: Callable[..., SandboxServer]) -> None:
    sandbox = make_sandbox()
    with httpx2.Client(base_url=sandbox.base_url, headers=sandbox.headers) as http:
        body = {"workflowId": "bench-stream", "inputs": {"_sandbox": {"emit": {"count": 1000}}}}
        run_id = http.post("/v1/runs", json=body).json()["runId"]
        with http.stream("GET", f"/v1/runs/{run_id}/events") as response:
            text = "".join(response.iter_text())
    frames = [f for f in text.split("\n\n") if f.startswith("id:")]
    assert len(frames) == 1002
    assert "event: run.completed" in frames[-1]
