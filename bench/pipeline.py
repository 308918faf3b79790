"""The event pipeline: backend SSE → adapter → pump → coalescing progress → MCP notifications at the client.

Throughput: one sandbox run emits `count` events as fast as it can; runbridge follows it (`runs_start`) and the
client counts what arrives. Every event must be accounted for: the result counts them all and the last progress
value (one per event when the run has no step total) equals that count. The same burst read by a bare httpx2
client shows what the sandbox alone can serve.

Latency: a run emits events at a steady rate; each event carries its emit time (Unix seconds, stamped by the
sandbox). Progress values count events, so the notification carrying value v reports event v. An event's latency is
the time from its emit to the receipt of the first notification that covers it (coalesced events wait for the
next flush); a notification's latency is that of the event it names.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from runbridge.core.logs import configure_logging
from runbridge.server import build_server

from ._support import (
    RUNBRIDGE,
    Figure,
    Outcome,
    Sandbox,
    burst_inputs,
    child_env,
    cpu_seconds,
    percentile,
    sandbox_process,
    serving_child,
    write_config,
)
from .overhead import settings_for

TARGET_RATE = 10_000.0
TARGET_P99_MS = 20.0
WORKFLOW = "bench-stream"


class Received:
    """Progress notifications as the client got them: (receipt time, value, message)."""

    def __init__(self) -> None:
        self.items: list[tuple[float, float, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.items.append((time.time(), progress, message))


async def _client(stack: AsyncExitStack, sandbox: Sandbox, transport: str, tmp: Path) -> Client:
    server = {"max_wait_seconds": 600, "wait_seconds": 600}
    if transport == "memory":
        settings = settings_for(sandbox, [WORKFLOW], tmp / "memory.db", **server)
        return await stack.enter_async_context(Client(build_server(settings)))
    config = write_config(tmp / "runbridge.toml", sandbox, workflows=[WORKFLOW], server=server)
    params = StdioServerParameters(
        command=RUNBRIDGE[0], args=[*RUNBRIDGE[1:], "serve", "--config", str(config)], env=child_env(sandbox, config)
    )
    errlog = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    return await stack.enter_async_context(Client(stdio_client(params, errlog=errlog)))


async def _follow(client: Client, count: int, rate: float | None) -> tuple[dict[str, Any], Received, float]:
    received = Received()
    start = time.perf_counter()
    result = await client.call_tool(
        "runs_start",
        {"target_id": WORKFLOW, "inputs": burst_inputs(count, rate), "wait_seconds": 600},
        progress_callback=received,
    )
    elapsed = time.perf_counter() - start
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content, received, elapsed


def _accounted(report: dict[str, Any], received: Received, count: int) -> tuple[bool, str]:
    """Every event reached the client: the result counts them all, and so does the last progress value."""
    expected = count + 2  # run.started, the burst, run.completed
    values = [v for _, v, _ in received.items]
    increasing = all(a < b for a, b in pairwise(values))
    ok = (
        report.get("status") == "completed"
        and report.get("events_seen") == expected
        and bool(values)
        and values[-1] == expected
        and increasing
    )
    last = values[-1] if values else None
    return ok, (
        f"status {report.get('status')}, events_seen {report.get('events_seen')} of {expected}, last progress "
        f"{last}, {len(values)} notifications, increasing {increasing}"
    )


async def _bare_burst(sandbox: Sandbox, count: int) -> float:
    """Seconds for a bare httpx2 client to read the same burst straight from the sandbox (the source's ceiling)."""
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers, timeout=None) as http:
        start = time.perf_counter()
        body = {"workflowId": WORKFLOW, "inputs": burst_inputs(count)}
        run_id = (await http.post("/v1/runs", json=body)).json()["runId"]
        frames, tail = 0, b""
        async with http.stream("GET", f"/v1/runs/{run_id}/events") as response:
            async for chunk in response.aiter_raw():
                data = tail + chunk  # a frame's blank line may straddle two reads
                frames += data.count(b"\n\n")
                tail = b"\n" if data.endswith(b"\n") and not data.endswith(b"\n\n") else b""
        elapsed = time.perf_counter() - start
    assert frames >= count + 2, frames
    return elapsed


async def _bare_steady(sandbox: Sandbox, count: int, rate: float) -> list[float]:
    """Emit → receipt latency of every event of a steady run read straight from the sandbox by a bare client."""
    latencies: list[float] = []
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers, timeout=None) as http:
        body = {"workflowId": WORKFLOW, "inputs": burst_inputs(count, rate)}
        run_id = (await http.post("/v1/runs", json=body)).json()["runId"]
        buffer = ""
        async with http.stream("GET", f"/v1/runs/{run_id}/events") as response:
            async for text in response.aiter_text():
                received = time.time()
                buffer += text
                *frames, buffer = buffer.split("\n\n")
                for frame in frames:
                    for line in frame.splitlines():
                        if line.startswith("data:"):
                            doc = json.loads(line[5:])
                            stamp = doc.get("payload", {}).get("inputs", {}).get("emittedAt")
                            if isinstance(stamp, int | float):
                                latencies.append(received - stamp)
    return latencies


async def _emit_times(sandbox: Sandbox, run_id: str) -> dict[int, float]:
    """Event ordinal (1-based, as the bridge counts) → emit time, from the run's stamped log."""
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers, timeout=60) as http:
        docs = (await http.get(f"/v1/runs/{run_id}/events/poll", params={"timeout": 0})).json()["events"]
    times: dict[int, float] = {}
    for ordinal, doc in enumerate(docs, start=1):
        stamp = doc.get("payload", {}).get("inputs", {}).get("emittedAt")
        if isinstance(stamp, int | float):
            times[ordinal] = float(stamp)
    return times


def _latencies(received: Received, emitted: dict[int, float]) -> tuple[list[float], list[float]]:
    per_event: list[float] = []
    per_notification: list[float] = []
    cursor = 0  # highest ordinal covered so far
    for at, value, _ in received.items:
        covered = int(value)
        if covered in emitted:
            per_notification.append(at - emitted[covered])
        for ordinal in range(cursor + 1, covered + 1):
            if ordinal in emitted:
                per_event.append(at - emitted[ordinal])
        cursor = max(cursor, covered)
    return per_event, per_notification


async def measure(count: int = 20_000, steady: int = 5_000, rate: float = 1_000.0, repeat: int = 3) -> Outcome:
    command = f"python -m bench --only pipeline --events {count} --steady {steady} --repeat {repeat}"
    outcome = Outcome("pipeline", command)
    with sandbox_process() as sandbox, tempfile.TemporaryDirectory() as tmp:
        bare = min([await _bare_burst(sandbox, count) for _ in range(repeat)])
        bare_latency = await _bare_steady(sandbox, steady, rate)
        bare99 = percentile(bare_latency, 99) * 1000
        for transport in ("memory", "stdio"):
            async with AsyncExitStack() as stack:
                client = await _client(stack, sandbox, transport, Path(tmp))
                await _follow(client, 100, None)  # warm: connections, imports, the workflow's description
                bridge = os.getpid() if transport == "memory" else serving_child()
                runs: list[tuple[dict[str, Any], Received, float]] = []
                cpu: list[float] = []
                for _ in range(repeat):
                    before = cpu_seconds(bridge)
                    runs.append(await _follow(client, count, None))
                    cpu.append(cpu_seconds(bridge) - before)
                elapsed = min(e for _, _, e in runs)
                checks = [_accounted(report, received, count) for report, received, _ in runs]
                report, received, _ = await _follow(client, steady, rate)
                emitted = await _emit_times(sandbox, report["run_id"])
                steady_ok, steady_note = _accounted(report, received, steady)
            per_event, per_notification = _latencies(received, emitted)
            ok = all(c for c, _ in checks) and steady_ok
            outcome.accounted = outcome.accounted and ok
            where = "in memory" if transport == "memory" else "over stdio"
            events_per_s = count / elapsed
            outcome.details[transport] = {
                "burst_seconds": [e for _, _, e in runs],
                "burst_checks": [n for _, n in checks],
                "steady_check": steady_note,
                "notifications_burst": len(runs[0][1].items),
                "bridge_cpu_seconds": cpu,
            }
            cpu_us = min(cpu) / count * 1e6
            who = "the bench process (runbridge and the client)" if transport == "memory" else "the runbridge process"
            outcome.figures.append(
                Figure(
                    "pipeline",
                    f"burst of {count:,} events {where}: events/s",
                    events_per_s,
                    "events/s",
                    target=f"≥ {TARGET_RATE:,.0f}/s",
                    met=events_per_s >= TARGET_RATE,
                    absolute=f"{elapsed:.2f} s through runbridge vs {bare:.2f} s bare SSE read "
                    f"({count / bare:,.0f}/s); "
                    f"{len(runs[0][1].items)} notifications; {cpu_us:.0f} µs CPU per event in {who}",
                    note="every event accounted for" if ok else f"NOT accounted: {checks[0][1]}",
                    ratio=f"{bare / elapsed:.2f}x the source's own rate",
                )
            )
            p50, p99 = percentile(per_event, 50) * 1000, percentile(per_event, 99) * 1000
            n50, n99 = percentile(per_notification, 50) * 1000, percentile(per_notification, 99) * 1000
            outcome.figures.append(
                Figure(
                    "pipeline",
                    f"event→notification latency p99 at {rate:,.0f}/s {where}",
                    p99,
                    "ms",
                    target=f"≤ {TARGET_P99_MS:g} ms",
                    met=p99 <= TARGET_P99_MS,
                    absolute=f"per event p50 {p50:.1f} ms / p99 {p99:.1f} ms over {len(per_event):,} events; per "
                    f"notification p50 {n50:.1f} ms / p99 {n99:.1f} ms over {len(per_notification):,}; the same "
                    f"stream read bare: p99 {bare99:.1f} ms",
                    note="every event accounted for" if steady_ok else f"NOT accounted: {steady_note}",
                    ratio=f"{p99 / bare99:.1f}x the bare read's p99",
                )
            )
    return outcome


if __name__ == "__main__":  # pragma: no cover
    configure_logging("WARNING")
    args = [int(a) for a in sys.argv[1:]]
    result = anyio.run(measure, *args)
    for figure in result.figures:
        print(f"{figure.name}: {figure.value:,.2f} {figure.unit}  ({figure.absolute}) {figure.note}")
