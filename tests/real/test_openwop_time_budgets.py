"""Time budgets on the OpenWOP SQLite reference host, through `runbridge serve` over stdio: a long wait hands the run
back inside the call's budget; a host that stops answering (its process group stopped with SIGSTOP: the kernel
still accepts connections, nothing answers) is a clear error inside the budget, and the host is fine once it goes
on; a run followed at an address where nothing listens fails as fast as a plain request. What the host itself says
about the run (`GET /v1/runs/{id}`) is checked, not only runbridge's answer."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from openwop_host_api import DELAY, RUN_WORKFLOWS, host_run
from real_backends import HostProcess
from real_client import Runbridge, call, error_text, openwop_profile, structured

pytestmark = pytest.mark.anyio

BUDGET = 3.0
SLACK = 1.0  # a stdio round trip and a loaded 2-core machine


@contextmanager
def not_answering(host: HostProcess) -> Iterator[None]:
    """The host's whole process group stopped (it keeps its port: connections are accepted, never answered), then
    let go on, whatever the test did meanwhile."""
    assert host.process is not None
    os.killpg(host.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(host.process.pid, signal.SIGCONT)


def closed_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def timed(client: Any, tool: str, arguments: dict[str, Any]) -> tuple[float, Any]:
    started = time.monotonic()
    result = await call(client, tool, arguments, within=60)
    return time.monotonic() - started, result


async def test_the_budget_holds_on_a_real_host_that_stops_answering_and_a_stream_refused_fails_fast(
    openwop_sqlite: HostProcess, real_key: str, workdir: Path
) -> None:
    host = openwop_sqlite
    server = {"call_budget_seconds": BUDGET, "max_wait_seconds": 30}
    rb = Runbridge(workdir, openwop_profile(host.base_url, RUN_WORKFLOWS), real_key, server=server)
    slow = {"target_id": DELAY, "inputs": {"delayMs": 30_000}}
    async with rb.connect("legacy") as client:
        waited, handed = await timed(client, "runs_start", {**slow, "wait_seconds": 30})
        run = structured(handed)
        with not_answering(host):
            read, unanswered = await timed(client, "runs_get", {"run_id": run["run_id"]})
        after = structured(await call(client, "runs_get", {"run_id": run["run_id"]}))
    # The 30 s wait asked for became a handle inside the 3 s budget, and the run goes on at the host.
    assert run["status"] == "running", run
    assert "runs_watch" in run["next"], run
    assert waited < BUDGET + SLACK, waited
    # The stopped host: a clear error inside the budget (5 tries of 30 s before), then the host answers again.
    assert read < BUDGET + SLACK, read
    said = error_text(unanswered)
    assert f"did not answer within this call's {BUDGET:g} s time budget" in said, said
    assert after["run"]["status"] == "running", after
    assert host_run(host, real_key, run["run_id"])["status"] == "running"

    # runbridge restarted with the profile moved to an address where nothing listens: following the run it knows
    # goes straight to the event stream, which is refused, and gives up as fast as a plain request.
    moved = Runbridge(workdir, openwop_profile(closed_url(), RUN_WORKFLOWS), real_key, server=server)
    async with moved.connect("legacy") as client:
        watched, refused = await timed(client, "runs_watch", {"run_id": run["run_id"], "wait_seconds": 20})
    said = error_text(refused)
    assert "the backend is not reachable" in said, said
    assert watched < 1.0 + SLACK, watched  # about 7 s of reconnects before
    assert "Traceback" not in rb.stderr()
