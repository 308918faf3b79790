"""The run store at scale: `runs_get`, `runs_list` (first and last page), `gates_list` and `usage_report` through
runbridge's tool layer (an MCP client in memory, the state in a file) at 10, 1,000, 10,000 and 100,000 recorded
runs, half of them waiting at an open gate; and the latency of another client's cheap call (reading the
`runbridge://profiles` resource, from a second session of its own) while those calls run, against its idle latency.

Both sessions share the bench process's event loop, so anything the store did on the loop would hold up the other
client. The calling client does not check each result against the tool's output schema (the host's cost, which
would run on that same loop). `runs_get` reads a real run from the sandbox (in its own process), so its figure
includes one HTTP GET; the other calls read only the store. Beside each figure: the store's own part, the same
query through the store's async API without MCP. The runs are written straight into SQLite with `executemany`
(setup, not measured).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client

from runbridge.core.config import Settings
from runbridge.core.models import Gate, GateField, Run, RunStatus
from runbridge.server import build_server
from runbridge.state import RunStore, SqliteStore
from runbridge.state.cursors import encode_cursor
from runbridge.state.sqlite_schema import connect

from ._support import Figure, Outcome, percentile, sandbox_process
from .overhead import settings_for

SIZES = (10, 1_000, 10_000, 100_000)
TARGET_P50_MS = 5.0
TARGET_OTHER_P99_MS = 2.0  # at most this much above the other client's idle p99
PROFILE = "bench"
_IDLE_CALLS = 5  # the other client's calls in each idle window
CALLS = ("runs_get", "runs_list first page", "runs_list last page", "gates_list", "usage_report")


def fill(path: Path, runs: int) -> str:
    """Write `runs` runs (every other one waiting at an open gate, the rest ended with usage) spread over the last
    20 days; the cursor of `runs_list`'s last page."""
    db = connect(path)
    start = datetime.now(UTC) - timedelta(days=20)
    step = timedelta(days=20) / max(runs, 1)
    gate = Gate(
        gate_id="G",
        run_id="R",
        kind="approval",
        prompt="Ship the release?",
        fields=[GateField(name="decision", type="select", options=["accept", "reject"], required=True)],
        opened_at=start,
        profile=PROFILE,
    ).model_dump(mode="json")
    usage = json.dumps({"input_tokens": 1200, "output_tokens": 300, "total_tokens": 1500, "cost_usd": 0.004})
    run_rows: list[tuple[Any, ...]] = []
    gate_rows: list[tuple[Any, ...]] = []
    for i in range(runs):
        at = (start + step * i).isoformat()
        run_id = f"run-{i:07d}"
        waiting = i % 2 == 0
        status = "waiting" if waiting else "completed"
        run_rows.append((PROFILE, run_id, f"wf-{i % 7}", status, at, at, None if waiting else usage))
        if waiting:
            body = {**gate, "gate_id": f"gate-{i:07d}", "run_id": run_id, "opened_at": at, "resume": {"n": i}}
            gate_rows.append((PROFILE, f"gate-{i:07d}", run_id, json.dumps(body), at))
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO runs (profile, run_id, target_id, status, created_at, updated_at, usage) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        run_rows,
    )
    db.executemany(
        "INSERT INTO gates (profile, gate_id, run_id, state, gate, opened_at) VALUES (?, ?, ?, 'open', ?, ?)",
        gate_rows,
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    # The last page holds the 20 oldest runs: it starts after the 21st oldest.
    row = db.execute("SELECT created_at, rowid FROM runs ORDER BY created_at, rowid LIMIT 1 OFFSET 20").fetchone()
    db.close()
    return encode_cursor(row[0], row[1]) if row else ""


async def _host_side(name: str, result: Any) -> None:
    """The host's own check of a result against the tool's output schema (jsonschema, in the client) is skipped:
    it is the host's cost, not runbridge's, and here it would run on the loop the servers share."""


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def _at_size(runs: int, samples: int, sandbox: Any, tmp: Path) -> dict[str, Any]:
    state = tmp / f"state-{runs}.db"
    last_page = fill(state, runs)
    settings = settings_for(sandbox, ["quick-demo"], state)
    return await timed_calls(samples, sandbox, settings, last_page, lambda: SqliteStore(state))


async def timed_calls(
    samples: int, sandbox: Any, settings: Settings, last_page: str, open_store: Callable[[], RunStore]
) -> dict[str, Any]:
    """Each call's latency through the tool layer on the store `settings` name (filled already; `last_page`: the
    cursor of runs_list's last page), the same queries on the store itself (`open_store()`), and another client's
    cheap call while they run."""
    timings: dict[str, list[float]] = {name: [] for name in CALLS}
    idle: list[float] = []
    busy: list[float] = []
    bare: list[float] = []
    async with (
        Client(build_server(settings)) as client,
        Client(build_server(settings)) as other,
        httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers) as http,
    ):
        client.session.validate_tool_result = _host_side  # type: ignore[method-assign]
        started = await client.call_tool("runs_start", {"target_id": "quick-demo", "wait_seconds": 5})
        run_id = (started.structured_content or {})["run_id"]

        def tool(name: str, args: dict[str, Any]) -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                result = await client.call_tool(name, args)
                assert not result.is_error, result.content

            return call

        calls = {
            "runs_get": tool("runs_get", {"run_id": run_id}),
            "runs_list first page": tool("runs_list", {}),
            "runs_list last page": tool("runs_list", {"cursor": last_page} if last_page else {}),
            "gates_list": tool("gates_list", {}),
            "usage_report": tool("usage_report", {}),
        }

        async def cheap() -> None:
            await other.read_resource("runbridge://profiles")

        for _ in range(max(5, samples // 5)):  # warm both sessions up
            await cheap()
            for call in calls.values():
                await call()

        # Idle and busy windows alternate, so that both see the machine as it is at that moment.
        async def bare_get() -> None:  # what runs_get costs the backend, for reference
            (await http.get(f"/v1/runs/{run_id}")).raise_for_status()

        for _ in range(samples):
            bare.append(await _timed(bare_get))
            for _ in range(_IDLE_CALLS):
                idle.append(await _timed(cheap))
            done = anyio.Event()

            async def one_pass(done: anyio.Event = done) -> None:
                for name, call in calls.items():
                    timings[name].append(await _timed(call))
                done.set()

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(one_pass)
                while not done.is_set():
                    busy.append(await _timed(cheap))
    store = open_store()  # the same queries on the store itself: its own share of each call
    since = datetime.now(UTC) - timedelta(days=30)
    direct = {
        "runs_get": lambda: store.observe(PROFILE, Run(run_id="run-0000001", status=RunStatus.COMPLETED)),
        "runs_list first page": lambda: store.list_runs(None),
        "runs_list last page": lambda: store.list_runs(None, cursor=last_page or None),
        "gates_list": lambda: store.gates_page(None),
        "usage_report": lambda: store.usage_sums(None, since, "target"),
    }
    own: dict[str, list[float]] = {name: [] for name in CALLS}
    for _ in range(samples):
        for name, call in direct.items():
            own[name].append(await _timed(call))
    await store.aclose()
    ms = {name: (percentile(v, 50) * 1000, percentile(v, 99) * 1000) for name, v in timings.items()}
    return {
        "calls": ms,
        "store": {name: percentile(v, 50) * 1000 for name, v in own.items()},
        "bare GET": percentile(bare, 50) * 1000,
        "other idle": (percentile(idle, 50) * 1000, percentile(idle, 99) * 1000),
        "other busy": (percentile(busy, 50) * 1000, percentile(busy, 99) * 1000, len(busy)),
    }


async def measure(samples: int, sizes: tuple[int, ...] = SIZES) -> Outcome:
    every = ",".join(str(runs) for runs in sizes)
    outcome = Outcome("store", f"python -m bench --only store --store-samples {samples} --store-sizes {every}")
    with sandbox_process() as sandbox, tempfile.TemporaryDirectory() as tmp:
        for runs in sizes:
            outcome.details[str(runs)] = await _at_size(runs, samples, sandbox, Path(tmp))
    figures(outcome, sizes)
    return outcome


def figures(outcome: Outcome, sizes: tuple[int, ...]) -> None:
    largest = max(sizes)
    for runs in sizes:
        found = outcome.details[str(runs)]
        for name in CALLS:
            p50, p99 = found["calls"][name]
            scored = runs == largest
            outcome.figures.append(
                Figure(
                    outcome.name,
                    f"{name} at {runs:,} runs: p50",
                    p50,
                    "ms",
                    target=f"≤ {TARGET_P50_MS:g} ms" if scored else "",
                    met=p50 <= TARGET_P50_MS if scored else None,
                    absolute=f"p99 {p99:.2f} ms; the store's own part (the same query through the store's "
                    f"async API, thread hop included, no MCP): p50 {found['store'][name]:.2f} ms"
                    + (
                        f"; a bare GET of the run from the sandbox: p50 {found['bare GET']:.2f} ms"
                        if name == "runs_get"
                        else ""
                    ),
                )
            )
        idle50, idle99 = found["other idle"]
        busy50, busy99, count = found["other busy"]
        outcome.figures.append(
            Figure(
                outcome.name,
                f"another client's cheap call while those run, at {runs:,} runs: p99 above idle",
                busy99 - idle99,
                "ms",
                target=f"≤ {TARGET_OTHER_P99_MS:g} ms",
                met=busy99 - idle99 <= TARGET_OTHER_P99_MS,
                absolute=f"p50 {busy50:.2f} ms / p99 {busy99:.2f} ms over {count} calls; idle p50 {idle50:.2f} ms "
                f"/ p99 {idle99:.2f} ms",
            )
        )
