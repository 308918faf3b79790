"""Calls per second through HAProxy (`docs/deploy/haproxy.cfg`) in front of 1 and of 3 `runbridge serve --http`
replicas on one Redis, everything on this machine's loopback: `clients` 2026-era MCP clients (the official one, over
streamable HTTP, spread round-robin) each call `runs_get` on a finished run in a loop for `seconds`, after a warm-up.
With one replica, all three of the balancer's `server` lines name it, so both figures pass through the same
balancer. The sandbox and Redis run in processes of their own; on a machine with few cores they, the balancer, the
clients and the replicas share the same cores, so the figure says what this machine serves, not how far replicas
scale.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
from mcp import Client

from ._support import Figure, Outcome, sandbox_process
from .store_redis import redis_server

HAPROXY_CFG = Path(__file__).resolve().parents[1] / "docs" / "deploy" / "haproxy.cfg"
KEY_ENV = "RUNBRIDGE_BENCH_REPLICAS_KEY"
RING = "bench-ring-key-" + "b" * 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)  # polls for the server to listen, bounded by the deadline
    raise RuntimeError(f"nothing listened on port {port} within {within} s")


@contextmanager
def _cluster(folder: Path, replicas: int, redis_url: str, base_url: str, api_key: str) -> Iterator[str]:
    """`replicas` runbridge processes behind HAProxy; the balancer's MCP URL."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        raise SystemExit("replicas needs haproxy (apt-get install haproxy)")
    config = folder / "runbridge.toml"
    config.write_text(
        f'[server]\nstate_url = {json.dumps(redis_url)}\n\n[profiles.bench]\nfamily = "openwop"\n'
        f"base_url = {json.dumps(base_url)}\napi_key_env = {json.dumps(KEY_ENV)}\n"
        'workflows = ["quick-demo"]\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RUNBRIDGE_STATE_KEY", "RUNBRIDGE_STATE_KEYS")}
    env |= {KEY_ENV: api_key, "RUNBRIDGE_STATE_KEYS": RING}
    ports = [_free_port() for _ in range(replicas)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            command = [sys.executable, "-m", "runbridge", "serve", "--http", "--port", str(port)]
            processes.append(subprocess.Popen([*command, "--config", str(config)], env=env, stderr=subprocess.DEVNULL))
        for port in ports:
            _wait_for(port)
        lb_port = _free_port()
        lb_env = {"PATH": env.get("PATH", ""), "RUNBRIDGE_LB_BIND": f"127.0.0.1:{lb_port}"}
        lb_env |= {f"RUNBRIDGE_REPLICA_{i}": f"127.0.0.1:{ports[(i - 1) % replicas]}" for i in (1, 2, 3)}
        processes.append(
            subprocess.Popen([haproxy, "-db", "-f", str(HAPROXY_CFG)], env=lb_env, stderr=subprocess.DEVNULL)
        )
        _wait_for(lb_port)
        yield f"http://127.0.0.1:{lb_port}/mcp"
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _calls_per_second(url: str, clients: int, seconds: float, warmup: float) -> tuple[float, int, int]:
    """(calls/s, calls, failed calls) of `clients` clients calling `runs_get` in a loop for `seconds`."""
    async with Client(url, mode="auto") as first:
        started = await first.call_tool("runs_start", {"target_id": "quick-demo", "wait_seconds": 20})
    run_id = (started.structured_content or {})["run_id"]
    counts = {"calls": 0, "failed": 0}
    measuring = {"on": False}

    async def one() -> None:
        async with Client(url, mode="auto") as client:
            while True:
                result = await client.call_tool("runs_get", {"run_id": run_id})
                if measuring["on"]:
                    counts["failed" if result.is_error else "calls"] += 1

    async with anyio.create_task_group() as tasks:
        for _ in range(clients):
            tasks.start_soon(one)
        await anyio.sleep(warmup)
        measuring["on"] = True
        clock = time.perf_counter()
        await anyio.sleep(seconds)
        measuring["on"] = False
        elapsed = time.perf_counter() - clock
        tasks.cancel_scope.cancel()
    return counts["calls"] / elapsed, counts["calls"], counts["failed"]


async def measure(clients: int, seconds: float) -> Outcome:
    outcome = Outcome(
        "replicas", f"python -m bench --only replicas --replica-clients {clients} --replica-seconds {seconds:g}"
    )
    rates: dict[int, float] = {}
    with sandbox_process() as sandbox, tempfile.TemporaryDirectory() as tmp:
        for replicas in (1, 3):
            folder = Path(tmp) / f"r{replicas}"
            folder.mkdir()
            (folder / "redis").mkdir()
            with (
                redis_server(folder / "redis") as redis_url,
                _cluster(folder, replicas, redis_url, sandbox.base_url, sandbox.api_key) as url,
            ):
                rate, calls, failed = await _calls_per_second(url, clients, seconds, warmup=min(3.0, seconds))
            rates[replicas] = rate
            outcome.details[f"{replicas} replica(s)"] = {"calls/s": rate, "calls": calls, "failed": failed}
            outcome.accounted = outcome.accounted and failed == 0
            outcome.figures.append(
                Figure(
                    "replicas",
                    f"runs_get through HAProxy, {replicas} replica{'s' if replicas > 1 else ''} on one Redis: calls/s",
                    rate,
                    "calls/s",
                    absolute=f"{calls:,} calls in {seconds:g} s from {clients} 2026-era clients; {failed} failed",
                )
            )
    outcome.figures[-1].ratio = f"{rates[3] / rates[1]:.2f}x one replica"
    return outcome
