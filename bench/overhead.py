"""Bridge overhead: a `runs_get` tool call through runbridge (in memory, and over stdio to a subprocess) against the
sandbox, next to the same GET with a bare httpx2 client, interleaved in one run so that all three see the same
machine. Added latency = runbridge's percentile minus the bare client's."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from runbridge.core import Profile, Settings
from runbridge.core.logs import configure_logging
from runbridge.server import build_server

from ._hello_server import build as hello_server
from ._support import (
    KEY_ENV,
    RUNBRIDGE,
    Figure,
    Outcome,
    Sandbox,
    child_env,
    percentile,
    sandbox_process,
    write_config,
)

HELLO = Path(__file__).with_name("_hello_server.py")
TARGET_MEMORY_MS = 1.0
TARGET_STDIO_MS = 3.0


def settings_for(sandbox: Sandbox, workflows: list[str], state: Path, **server: Any) -> Settings:
    """Settings for runbridge in this process: one `bench` profile on the sandbox, the registry in a file."""
    os.environ[KEY_ENV] = sandbox.api_key
    profile = Profile(
        name="bench", family="openwop", base_url=sandbox.base_url, api_key_env=KEY_ENV, workflows=workflows
    )
    return Settings(profiles={"bench": profile}, state_path=str(state), **server)


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def measure(samples: int, warmup: int = 30) -> Outcome:
    outcome = Outcome("overhead", f"python -m bench --only overhead --samples {samples}")
    timings: dict[str, list[float]] = {"bare": [], "memory": [], "stdio": [], "sdk memory": [], "sdk stdio": []}
    with sandbox_process() as sandbox, tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp) / "runbridge.toml", sandbox, workflows=["quick-demo"], server={})
        params = StdioServerParameters(
            command=RUNBRIDGE[0],
            args=[*RUNBRIDGE[1:], "serve", "--config", str(config)],
            env=child_env(sandbox, config),
        )
        hello = StdioServerParameters(command=RUNBRIDGE[0], args=[str(HELLO)])
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            async with (
                httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers) as http,
                Client(build_server(settings_for(sandbox, ["quick-demo"], Path(tmp) / "memory.db"))) as memory,
                Client(stdio_client(params, errlog=devnull)) as stdio,
                Client(hello_server()) as sdk_memory,
                Client(stdio_client(hello, errlog=devnull)) as sdk_stdio,
            ):
                started = await http.post("/v1/runs", json={"workflowId": "quick-demo", "inputs": {}})
                run_id = started.json()["runId"]

                async def bare() -> None:
                    response = await http.get(f"/v1/runs/{run_id}")
                    response.raise_for_status()
                    response.json()

                def through(client: Client) -> Callable[[], Awaitable[None]]:
                    async def call() -> None:
                        result = await client.call_tool("runs_get", {"run_id": run_id})
                        assert not result.is_error, result.content

                    return call

                def trivial(client: Client) -> Callable[[], Awaitable[None]]:
                    async def call() -> None:
                        await client.call_tool("hello", {"name": "bench"})

                    return call

                calls = {
                    "bare": bare,
                    "memory": through(memory),
                    "stdio": through(stdio),
                    "sdk memory": trivial(sdk_memory),
                    "sdk stdio": trivial(sdk_stdio),
                }
                for i in range(warmup + samples):
                    for name, call in calls.items():
                        elapsed = await _timed(call)
                        if i >= warmup:
                            timings[name].append(elapsed)
    _figures(outcome, timings)
    return outcome


def _figures(outcome: Outcome, timings: dict[str, list[float]]) -> None:
    bare50, bare99 = percentile(timings["bare"], 50), percentile(timings["bare"], 99)
    outcome.details = {
        name: {"p50_ms": percentile(v, 50) * 1000, "p99_ms": percentile(v, 99) * 1000, "n": len(v)}
        for name, v in timings.items()
    }
    for name, target in (("memory", TARGET_MEMORY_MS), ("stdio", TARGET_STDIO_MS)):
        p50, p99 = percentile(timings[name], 50), percentile(timings[name], 99)
        added50, added99 = (p50 - bare50) * 1000, (p99 - bare99) * 1000
        where = "in memory" if name == "memory" else "over stdio"
        floor = percentile(timings[f"sdk {name}"], 50)
        outcome.figures.append(
            Figure(
                "overhead",
                f"runs_get {where}: added latency p50",
                added50,
                "ms",
                target=f"≤ {target:g} ms",
                met=added50 <= target,
                ratio=f"{p50 / bare50:.2f}x the bare GET",
                absolute=f"runbridge p50 {p50 * 1000:.2f} ms vs bare GET {bare50 * 1000:.2f} ms; a hello-world "
                f"tool call {where}, same SDK path, no HTTP: {floor * 1000:.2f} ms",
            )
        )
        outcome.figures.append(
            Figure(
                "overhead",
                f"runs_get {where}: added latency p99",
                added99,
                "ms",
                ratio=f"{p99 / bare99:.2f}x the bare GET",
                absolute=f"runbridge p99 {p99 * 1000:.2f} ms vs bare GET {bare99 * 1000:.2f} ms",
            )
        )


if __name__ == "__main__":  # pragma: no cover
    configure_logging("WARNING")
    result = anyio.run(measure, int(sys.argv[1]) if len(sys.argv) > 1 else 300)
    for figure in result.figures:
        print(f"{figure.name}: {figure.value:.3f} {figure.unit}  ({figure.absolute})")
