"""Concurrency: many runs watched at once through one runbridge process over streamable HTTP.

`runbridge serve --http` runs in its own process; the client starts `runs` runs at once (`runs_start`, each
followed to its end with progress), each emitting `events` events at `rate` per second. Every call must come back
with its run completed and every event counted (no lost terminal event). The server's resident memory is sampled
throughout (peak from the kernel's high-water mark) and its CPU time is divided by the events it relayed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from runbridge.core.logs import configure_logging

from ._support import (
    RUNBRIDGE,
    Figure,
    Outcome,
    burst_inputs,
    child_env,
    cpu_seconds,
    memory_mb,
    sandbox_process,
    write_config,
)

TARGET_RSS_MB = 300.0
WORKFLOW = "bench-stream"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_for_port(port: int, within: float = 30) -> None:
    with anyio.fail_after(within):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


class _Run:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.messages: list[str] = []
        self.report: dict[str, Any] | None = None
        self.error: str | None = None

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)
        if message and "still running" in message:
            self.messages.append(message)

    def summary(self) -> dict[str, Any]:
        report = self.report or {}
        keys = ("status", "done", "events_seen", "note", "cursor")
        extra = {"progress": self.values[-3:], "heartbeats": self.messages[:2], "error": self.error}
        return {k: report.get(k) for k in keys} | extra

    def complete(self, events: int) -> bool:
        """The run's end arrived with every event counted. Progress counts events plus any heartbeat the bridge
        sent while a stream was quiet (a loaded machine can stall one), so it reaches at least the event count."""
        expected = events + 2
        report = self.report or {}
        return (
            report.get("status") == "completed"
            and report.get("events_seen") == expected
            and bool(self.values)
            and self.values[-1] >= expected
        )


async def measure(runs: int = 500, events: int = 30, rate: float = 1.0) -> Outcome:
    command = f"python -m bench --only concurrency --runs {runs} --run-events {events} --run-rate {rate:g}"
    outcome = Outcome("concurrency", command)
    port = _free_port()
    with sandbox_process() as sandbox, tempfile.TemporaryDirectory() as tmp:
        config = write_config(
            Path(tmp) / "runbridge.toml",
            sandbox,
            workflows=[WORKFLOW],
            server={"wait_seconds": 600, "max_wait_seconds": 600},
        )
        server = subprocess.Popen(
            [*RUNBRIDGE, "serve", "--http", "--port", str(port), "--config", str(config)],
            env=child_env(sandbox, config),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await _wait_for_port(port)
            url = f"http://127.0.0.1:{port}/mcp"
            limits = httpx2.Limits(max_connections=runs + 50, max_keepalive_connections=runs + 50)
            async with (
                httpx2.AsyncClient(limits=limits, timeout=httpx2.Timeout(600, connect=30)) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                await client.call_tool("runs_start", {"target_id": WORKFLOW, "inputs": burst_inputs(5)})  # warm
                idle_rss, _ = memory_mb(server.pid)
                spy = None
                if os.environ.get("BENCH_SPY"):  # a py-spy profile of the server while the runs go on
                    spy = subprocess.Popen(
                        ["py-spy", "record", "-p", str(server.pid), "-o", os.environ["BENCH_SPY"], "-f", "raw"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                cpu_before = cpu_seconds(server.pid)
                others_before = cpu_seconds(os.getpid()), cpu_seconds(sandbox.process.pid)
                samples: list[float] = []
                results = [_Run() for _ in range(runs)]
                started = time.perf_counter()

                async def one(run: _Run) -> None:
                    try:
                        result = await client.call_tool(
                            "runs_start",
                            {"target_id": WORKFLOW, "inputs": burst_inputs(events, rate), "wait_seconds": 600},
                            progress_callback=run.progress,
                        )
                        run.report = result.structured_content
                        if result.is_error:
                            run.error = str(result.content)
                    except Exception as exc:  # a lost call is a finding, reported below, not a crash
                        run.error = f"{type(exc).__name__}: {exc}"

                streams: list[int] = []

                async def sample(stop: anyio.Event) -> None:
                    async with httpx2.AsyncClient(base_url=sandbox.base_url, timeout=30) as admin:
                        while not stop.is_set():
                            samples.append(memory_mb(server.pid)[0])
                            stats = (await admin.get("/_sandbox/stats")).json()
                            streams.append(int(stats.get("open_streams", 0)))
                            with anyio.move_on_after(0.2):
                                await stop.wait()

                stop = anyio.Event()
                async with anyio.create_task_group() as sampler:
                    sampler.start_soon(sample, stop)
                    async with anyio.create_task_group() as tg:
                        for run in results:
                            tg.start_soon(one, run)
                    stop.set()
                elapsed = time.perf_counter() - started
                cpu = cpu_seconds(server.pid) - cpu_before
                client_cpu = cpu_seconds(os.getpid()) - others_before[0]
                sandbox_cpu = cpu_seconds(sandbox.process.pid) - others_before[1]
                rss_now, rss_peak = memory_mb(server.pid)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(30)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    complete = sum(run.complete(events) for run in results)
    peak_streams = max(streams, default=0)
    errors = [run.error for run in results if run.error][:3]
    incomplete = [run.summary() for run in results if not run.complete(events)][:5]
    quiet = [run.messages[0] for run in results if run.messages]
    total_events = runs * (events + 2)
    outcome.accounted = complete == runs
    outcome.details = {
        "complete": complete,
        "runs": runs,
        "errors": errors,
        "incomplete": incomplete,
        "runs_with_heartbeats": len(quiet),
        "heartbeat_examples": quiet[:2],
        "elapsed_s": elapsed,
        "open_streams_peak": peak_streams,
        "rss_idle_mb": idle_rss,
        "rss_samples_max_mb": max(samples, default=float("nan")),
        "rss_end_mb": rss_now,
        "rss_peak_mb": rss_peak,
        "cpu_s": cpu,
        "client_cpu_s": client_cpu,
        "sandbox_cpu_s": sandbox_cpu,
    }
    note = "every terminal event arrived" if complete == runs else f"LOST: {runs - complete} runs; {errors}"
    outcome.figures += [
        Figure(
            "concurrency",
            f"{runs} runs at once over streamable HTTP: runs completed with every event",
            complete / runs,
            "ratio",
            target="1.0 (no lost terminal event)",
            met=complete == runs,
            ratio=f"{complete}/{runs} runs",
            absolute=f"{complete}/{runs} in {elapsed:.1f} s ({events} events at {rate:g}/s per run)",
            note=note,
        ),
        Figure(
            "concurrency",
            f"{runs} runs at once: event streams open at the same time (sandbox gauge, sampled every 0.2 s)",
            peak_streams / runs,
            "ratio",
            target=f"1.0 (all {runs} watched live)",
            met=peak_streams >= runs,
            ratio=f"{peak_streams}/{runs} streams",
            absolute=f"at most {peak_streams} of {runs} streams open at once",
        ),
        Figure(
            "concurrency",
            f"{runs} runs at once: server peak RSS",
            rss_peak,
            "MB",
            target=f"≤ {TARGET_RSS_MB:g} MB",
            met=rss_peak <= TARGET_RSS_MB,
            ratio=f"{rss_peak / TARGET_RSS_MB:.2f}x the budget; {rss_peak / idle_rss:.2f}x idle",
            absolute=f"idle {idle_rss:.0f} MB before the runs; {(rss_peak - idle_rss) / runs * 1024:.0f} KB per "
            "watched run at the peak",
        ),
        Figure(
            "concurrency",
            f"{runs} runs at once: server CPU time per event",
            cpu / total_events * 1e6,
            "µs/event",
            absolute=f"{cpu:.2f} s CPU for {total_events:,} events ({cpu / elapsed:.2f} cores busy on average)",
        ),
    ]
    return outcome


if __name__ == "__main__":  # pragma: no cover
    configure_logging("WARNING")
    numbers = [float(a) for a in sys.argv[1:]]
    result = anyio.run(measure, *(int(n) if i < 2 else n for i, n in enumerate(numbers)))
    print(result.details)
    for figure in result.figures:
        print(f"{figure.name}: {figure.value:,.2f} {figure.unit}  ({figure.absolute}) {figure.note}")
