"""The run store in Redis at scale: the same calls as `bench/store.py` (`runs_get`, `runs_list` first and last
page, `gates_list`, `usage_report` through the tool layer, an MCP client in memory) with `state_url` on a real
`redis-server` this benchmark starts on a loopback port (no persistence: the figures are the store's reads, not the
disk's), at 10, 1,000 and 10,000 recorded runs, half of them waiting at an open gate, and another client's cheap
call while they run.

The runs are written through the store's own API, many at once (setup, not measured), spread over the last 20 days
as in `bench/store.py` (the store's clock is set per run while filling), so `usage_report` reads the days' sums and
the first day's runs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio

from runbridge.core.models import Gate, GateField, Run, RunStatus, Usage
from runbridge.state import redis_runs
from runbridge.state.redis_store import RedisStore

from ._support import Outcome, environment, sandbox_process
from .overhead import settings_for
from .store import PROFILE, figures, timed_calls

SIZES = (10, 1_000, 10_000)
_AT_ONCE = 100  # runs written at once while filling


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A `redis-server` on a free loopback port, its files in `folder`; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("store-redis needs redis-server (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
    server = subprocess.Popen([*command, "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)  # polls for the server to listen, bounded by the deadline
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


_WHEN: ContextVar[datetime] = ContextVar("when")  # the moment the store's clock reads while one run is written


async def fill(url: str, runs: int) -> str:
    """Record `runs` runs (every other one waiting at an open gate, the rest ended with usage) spread over the last
    20 days; the cursor of `runs_list`'s last page."""
    store = RedisStore(url)
    start = datetime.now(UTC) - timedelta(days=20)
    step = timedelta(days=20) / max(runs, 1)
    usage = Usage(input_tokens=1200, output_tokens=300, total_tokens=1500, cost_usd=0.004)
    field = GateField(name="decision", type="select", options=["accept", "reject"], required=True)

    async def one(i: int) -> None:
        _WHEN.set(start + step * i)
        run_id = f"run-{i:07d}"
        if i % 2 == 0:
            await store.record_run(PROFILE, Run(run_id=run_id, target_id=f"wf-{i % 7}", status=RunStatus.WAITING))
            gate = Gate(
                gate_id=f"gate-{i:07d}",
                run_id=run_id,
                kind="approval",
                prompt="Ship?",
                fields=[field],
                opened_at=_WHEN.get(),
            )
            await store.record_gate(PROFILE, gate)
        else:
            await store.update_run(PROFILE, run_id, status=RunStatus.COMPLETED, target_id=f"wf-{i % 7}", usage=usage)

    clock = redis_runs.utc_now
    redis_runs.utc_now = _WHEN.get  # each task sees its own run's moment
    try:
        for first in range(0, runs, _AT_ONCE):
            async with anyio.create_task_group() as tasks:
                for i in range(first, min(first + _AT_ONCE, runs)):
                    tasks.start_soon(one, i)
        if runs <= 20:
            return ""
        return (await store.list_runs(None, limit=runs - 20)).next_cursor or ""  # the last page: the 20 oldest
    finally:
        redis_runs.utc_now = clock
        await store.aclose()


async def measure(samples: int, sizes: tuple[int, ...] = SIZES) -> Outcome:
    every = ",".join(str(runs) for runs in sizes)
    outcome = Outcome(
        "store-redis", f"python -m bench --only store-redis --store-samples {samples} --store-sizes {every}"
    )
    ring = environment(RUNBRIDGE_STATE_KEYS="bench-ring-key-" + "r" * 40)  # a shared store takes a shared key ring
    with ring, sandbox_process() as sandbox, tempfile.TemporaryDirectory() as tmp:
        for runs in sizes:
            folder = Path(tmp) / f"redis-{runs}"
            folder.mkdir()
            with redis_server(folder) as url:
                last_page = await fill(url, runs)
                settings = settings_for(sandbox, ["quick-demo"], folder / "unused.db", state_url=url)
                found = await timed_calls(samples, sandbox, settings, last_page, lambda url=url: RedisStore(url))
                outcome.details[str(runs)] = found
    figures(outcome, sizes)
    return outcome
