"""Three `runbridge serve --http` processes on one Redis (a real redis-server) behind a real HAProxy running the
configuration shown in docs/deploy.md (`docs/deploy/haproxy.cfg`), all on loopback; and HTTP clients that note,
for every request, which replica answered it (HAProxy's `X-Runbridge-Replica` header)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from faults_harness import openwop_config, wait_for_port

from ports import free_port
from redis_server import RedisServer, redis_server_or_skip
from runbridge.sandbox import DEFAULT_API_KEY, SandboxServer

HAPROXY_CFG = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "haproxy.cfg"
RING = "lb-ring-key-" + "r" * 40
REPLICAS = ("r1", "r2", "r3")


def haproxy_or_skip() -> str:
    """The path of `haproxy`; skips without it (with the reason `.ci/run` found), fails on CI when none was given."""
    binary = os.environ.get("RUNBRIDGE_HAPROXY") or shutil.which("haproxy")
    if binary:
        return binary
    why = os.environ.get("RUNBRIDGE_HAPROXY_UNAVAILABLE")
    if os.environ.get("RUNBRIDGE_REAL_REQUIRED") == "1" and not why:
        pytest.fail("haproxy is not installed; .ci/run installs it (apt-get install haproxy)", pytrace=False)
    pytest.skip(why or "haproxy is not installed (apt-get install haproxy)")


@dataclass
class Seen:
    """One request through a client: its JSON-RPC method, tool name and arguments, whether it carried a sealed
    requestState (a 2026 gate's retry), its Mcp-Session-Id, and the replica that answered."""

    method: str
    tool: str | None
    arguments: dict[str, Any]
    retry: bool
    session: str | None
    replica: str | None


@dataclass
class Cluster:
    folder: Path
    redis: RedisServer
    ports: dict[str, int]
    lb_port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}/mcp"

    def replica_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/mcp"

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL replica `name` (it stops at once: no lease given up, no state written) and reap it."""
        process = self.processes[REPLICAS.index(name)]
        process.kill()
        process.wait()

    def watched(self) -> httpx2.AsyncClient:
        """An HTTP client for the official MCP client that notes every request it makes in `seen`."""

        async def note(response: httpx2.Response) -> None:
            request = response.request
            try:
                body = json.loads(request.content or b"null")
            except (ValueError, httpx2.RequestNotRead):
                body = None
            params = body.get("params") or {} if isinstance(body, dict) else {}
            self.seen.append(
                Seen(
                    method=body.get("method", "") if isinstance(body, dict) else request.method,
                    tool=params.get("name"),
                    arguments=params.get("arguments") or {},
                    retry=bool(params.get("requestState")),
                    session=request.headers.get("mcp-session-id"),
                    replica=response.headers.get("x-runbridge-replica"),
                )
            )

        return httpx2.AsyncClient(event_hooks={"response": [note]}, timeout=httpx2.Timeout(60, read=60))


def replica_env(key_env: str, ring: str) -> dict[str, str]:
    """This process's environment for a replica: the sandbox key in `key_env`, and `ring` as the state key ring."""
    env = {k: v for k, v in os.environ.items() if k not in ("RUNBRIDGE_STATE_KEY", "RUNBRIDGE_STATE_KEYS")}
    return env | {key_env: DEFAULT_API_KEY, "RUNBRIDGE_STATE_KEYS": ring}


def start_http_replica(
    folder: Path, name: str, port: int, config: Path, env: dict[str, str], *args: str
) -> subprocess.Popen[bytes]:
    """`runbridge serve --http --port PORT --config CONFIG ARGS`, its output in `folder/NAME.log`."""
    command = [sys.executable, "-m", "runbridge", "serve", "--http", "--port", str(port), "--config", str(config)]
    with open(folder / f"{name}.log", "wb") as log:
        return subprocess.Popen([*command, *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_processes(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """Terminate them all, then wait for each (15 s, then SIGKILL)."""
    processes = list(processes)
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@asynccontextmanager
async def cluster(
    folder: Path, sandbox: SandboxServer, key_env: str, *, auth: dict[str, Any] | None = None, **server: Any
) -> AsyncIterator[Cluster]:
    """Redis, three replicas and HAProxy in front of them; everything stopped afterwards. With `auth`, every replica
    has that `[auth]` table (its `resource_url` the balancer's URL unless given); `server`: more `[server]`
    settings."""
    haproxy = haproxy_or_skip()
    redis = RedisServer(redis_server_or_skip(), folder / "redis")
    redis.start()
    here = Cluster(folder, redis, {name: free_port() for name in REPLICAS}, free_port())
    config = openwop_config(
        folder / "runbridge.toml",
        sandbox,
        key_env,
        state_url=redis.url,
        **({"wait_seconds": 20, "progress_interval_seconds": 0} | server),
    )
    if auth is not None:
        table = {"resource_url": here.url} | auth
        with config.open("a", encoding="utf-8") as file:
            file.write("\n[auth]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()))
    env = replica_env(key_env, RING)
    try:
        for name, port in here.ports.items():
            here.processes.append(start_http_replica(folder, name, port, config, env, "--log-level", "INFO"))
        for port in here.ports.values():
            await wait_for_port(port, within=30)  # before HAProxy's first health check finds them
        lb_env = {"PATH": env.get("PATH", ""), "RUNBRIDGE_LB_BIND": f"127.0.0.1:{here.lb_port}"}
        lb_env |= {f"RUNBRIDGE_REPLICA_{i}": f"127.0.0.1:{here.ports[n]}" for i, n in enumerate(REPLICAS, 1)}
        with open(folder / "haproxy.log", "wb") as log:
            here.processes.append(
                subprocess.Popen(
                    [haproxy, "-db", "-f", str(HAPROXY_CFG)], env=lb_env, stdout=log, stderr=subprocess.STDOUT
                )
            )
        await wait_for_port(here.lb_port, within=30)
        yield here
    finally:
        stop_processes(reversed(here.processes))
        redis.stop()
