"""An agent call with progress: `agents_call` on the platform sandbox's managed-loop agent, streamed (`progress`
events, then `result`), followed by runbridge to its end with one progress notification per event, against the same
call read by a bare httpx2 client.

Every call must be accounted for: it completes, and the last progress value counts every event of the stream (the
call's start, three events per turn, the loop's end and the result). The figure is what runbridge adds to a call:
its median wall time minus the bare client's, for calls of `turns` turns.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client

from runbridge.core import Profile, Settings
from runbridge.core.logs import configure_logging
from runbridge.server import build_server

from ._support import Figure, Outcome, median, sandbox_process

TARGET_MS = 100.0  # a tenth of a second a person does not notice, as for a gate's question
KEY_ENV = "RUNBRIDGE_BENCH_PLATFORM_KEY"
AGENT = "acme/repo-auditor"


class _Counted:
    def __init__(self) -> None:
        self.values: list[float] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.values.append(progress)


async def _bare(base_url: str, headers: dict[str, str], turns: int) -> tuple[float, int]:
    """One streamed call read to its end by a bare client: seconds, and the events it carried."""
    started = time.perf_counter()
    events = 0
    async with httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        request = {"repo": "bench", "turns": turns}
        async with client.stream(
            "POST", "/acme/repo-auditor/v1/run", json=request, headers={"Accept": "text/event-stream"}
        ) as response:
            async for line in response.aiter_lines():
                events += line.startswith("event: ")
    return time.perf_counter() - started, events


async def measure(repeat: int = 10, turns: int = 50) -> Outcome:
    configure_logging("ERROR")
    outcome = Outcome("agents", f"python -m bench --only agents --repeat {repeat}")
    expected = 1 + 3 * turns + 2  # started, the turns, the loop's end, the result
    runbridge_s: list[float] = []
    bare_s: list[float] = []
    accounted = True
    with sandbox_process("platform") as sandbox, tempfile.TemporaryDirectory() as tmp:
        os.environ[KEY_ENV] = sandbox.api_key
        profile = Profile(name="oa", family="platform", base_url=sandbox.base_url, api_key_env=KEY_ENV)
        settings = Settings(
            profiles={"oa": profile}, state_path=str(Path(tmp) / "bench.db"), progress_interval_seconds=0
        )
        async with Client(build_server(settings), mode="legacy") as client:
            await client.call_tool("agents_get", {"agent_id": AGENT})  # the first request's connection, out of the way
            for _ in range(repeat):
                bare, events = await _bare(sandbox.base_url, sandbox.headers, turns)
                bare_s.append(bare)
                counted = _Counted()
                started = time.perf_counter()
                result = await client.call_tool(
                    "agents_call",
                    {"agent_id": AGENT, "input": {"repo": "bench", "turns": turns}},
                    progress_callback=counted,
                )
                runbridge_s.append(time.perf_counter() - started)
                report: dict[str, Any] = result.structured_content or {}
                # runbridge reads the agent's details first (its endpoint, whether it streams): one more request
                accounted &= report.get("status") == "completed" and events == 3 * turns + 2
                accounted &= bool(counted.values) and counted.values[-1] >= turns  # progress toward the turns
    added = (median(runbridge_s) - median(bare_s)) * 1000
    outcome.accounted = accounted
    outcome.details = {
        "runbridge_ms": sorted(round(s * 1000, 2) for s in runbridge_s),
        "bare_ms": sorted(round(s * 1000, 2) for s in bare_s),
        "events_per_call": expected,
    }
    outcome.figures.append(
        Figure(
            "agents",
            f"agent call with progress ({turns} turns, {expected} events): time runbridge adds",
            added,
            "ms",
            target=f"≤ {TARGET_MS:g} ms",
            met=added <= TARGET_MS,
            absolute=f"runbridge {median(runbridge_s) * 1000:.1f} ms, bare client {median(bare_s) * 1000:.1f} ms",
            note=f"median of {repeat} calls; the details read before the call included",
        )
    )
    return outcome


if __name__ == "__main__":
    print(anyio.run(measure, 3))
