"""Helpers for the reliability tests of the MCP surface (bad input, gates under pressure, secrets, HTTP): the
sandboxes and profiles runbridge is built on, runbridge's HTTP app on a loopback port, a subprocess `runbridge
serve`, and the checks every refusal must pass. Imported explicitly by those modules (no fixtures here)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp_types import CallToolResult
from tests.ports import free_port as free_port

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

RUNBRIDGE = [sys.executable, "-m", "runbridge"]
ERAS = ["legacy", "auto"]
PROTOCOL = {"legacy": "2025-11-25", "auto": "2026-07-28"}

# Where each family's routes live: a request outside these prefixes did not go where runbridge meant it to.
API_PREFIXES = {
    "openwop": ("/v1/runs", "/v1/workflows/", "/v1/interrupts/", "/.well-known/openwop", "/v1/openapi.json"),
    "orchestrations": ("/api/v1/orchestrations", "/api/v2/orchestrations"),
    "orchagent": ("/threads", "/runs/", "/approvals/", "/auth/", "/meta", "/oauth/"),
}
# The backend writes only one tool may cause: a fork must never cancel, a read must never resume.
WRITES = {
    "POST /v1/runs": {"runs_start"},
    "POST /v1/runs/{run_id}:fork": {"runs_fork"},
    "POST /v1/runs/{run_id}/cancel": {"runs_cancel"},
    "POST /v1/runs/{run_id}/interrupts/{node_id}": {"gates_respond"},
    "POST /v1/interrupts/{token}": {"gates_respond"},
    "POST /api/v1/orchestrations/{orch_id}/run": {"runs_start"},
    "POST /api/v1/orchestrations/{orch_id}/run/stream": {"runs_start"},
    "POST /api/v1/orchestrations/runs/{run_id}/resume": {"gates_respond"},
    "POST /api/v1/orchestrations/runs/{run_id}/resume/stream": {"gates_respond"},
    "POST /threads": {"threads_create"},
    "POST /threads/{thread_id}/secrets": {"threads_set_secrets"},
    "POST /threads/{thread_id}/messages": {"threads_send", "threads_ask"},
    "POST /runs/{run_id}/resume": {"gates_respond"},
    "POST /approvals/{run_id}/approve": {"approvals_approve"},
    "POST /approvals/clear": {"approvals_clear"},
}
RESUME_ROUTES = {route for route, tools in WRITES.items() if tools == {"gates_respond"}}


def profile_for(family: str, sandbox: SandboxServer, name: str, key_env: str, **extra: Any) -> Profile:
    """A profile on `sandbox` whose key is read from `key_env` (orchagent reads the same variable as its token)."""
    workflows = ["approval-demo", "clarify-demo", "quick-demo", "input-demo"] if family == "openwop" else []
    options = {"status_idle_seconds": 0.1} if family == "orchagent" else {}
    return Profile.model_validate(
        {
            "name": name,
            "family": family,
            "base_url": sandbox.base_url,
            "api_key_env": key_env,
            "workflows": workflows,
            "options": options,
            **extra,
        }
    )


def settings_for(*profiles: Profile, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "state_path": ":memory:",
        "wait_seconds": 10,
        "heartbeat_seconds": 5,
        "progress_interval_seconds": 0,
    }
    return Settings.model_validate({"profiles": {p.name: p for p in profiles}, **base, **overrides})


def requests_seen(sandbox: SandboxServer) -> Counter[str]:
    """Requests the sandbox received, by route (`METHOD /template`, or the raw path when none matched)."""
    return Counter(sandbox.stats()["requests"])


def resumes(sandbox: SandboxServer) -> int:
    """How many resume (gate-answer) requests reached the sandbox: runbridge's own answer-once record aside."""
    seen = requests_seen(sandbox)
    return sum(count for route, count in seen.items() if route in RESUME_ROUTES)


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def assert_curated(text: str, *secrets: str) -> None:
    """A refusal a model can act on: words, not a stack trace, a source path or a secret."""
    assert text.strip(), "an empty error"
    assert "Traceback" not in text, text[:500]
    assert 'File "' not in text, text[:500]
    for secret in secrets:
        assert secret not in text, "a secret reached an error message"


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)[:500]
    assert result.structured_content is not None
    return result.structured_content


class _Uvicorn(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 (ephemeral port) in a thread; yields its MCP endpoint URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = _Uvicorn(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="runbridge-http", daemon=True)
    thread.start()
    try:
        if not server.ready.wait(10):
            raise RuntimeError("the runbridge HTTP app did not start within 10 s")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive(), "the HTTP server did not stop"


def _toml(value: Any) -> str:
    """A TOML value (inline tables for mappings; JSON spells the rest the same way)."""
    if isinstance(value, Mapping):
        items: Mapping[str, Any] = value  # type: ignore[assignment]
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in items.items()) + "}"
    return json.dumps(value)


def write_config(path: Path, profiles: Mapping[str, Profile], **server: Any) -> Path:
    """A runbridge.toml for `profiles` (secrets by reference only, as a user writes it)."""
    lines = ["[server]", *(f"{k} = {_toml(v)}" for k, v in server.items()), ""]
    for name, profile in profiles.items():
        body = profile.model_dump(mode="json", exclude={"name", "options"}, exclude_none=True)
        lines.append(f"[profiles.{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in body.items()]
        options = profile.options.model_dump(mode="json", exclude_defaults=True)
        if options:
            lines.append(f"[profiles.{name}.options]")
            lines += [f"{k} = {_toml(v)}" for k, v in options.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def wait_for_port(port: int, *, within: float = 20, host: str = "127.0.0.1") -> None:
    with anyio.fail_after(within):
        while True:
            try:
                stream = await anyio.connect_tcp(host, port)
            except OSError:
                await anyio.sleep(0.05)  # polls a condition, bounded by fail_after
                continue
            await stream.aclose()
            return


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a runbridge subprocess: this one, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNBRIDGE, *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


class Served:
    """A `runbridge serve --http` subprocess: its URL, pid, and the file its stderr goes to."""

    def __init__(self, url: str, pid: int, stderr: Path) -> None:
        self.url, self.pid, self.stderr = url, pid, stderr

    def rss_kib(self) -> int:
        """Resident memory of the server process, from /proc (KiB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

    def open_fds(self) -> int:
        return len(list(Path(f"/proc/{self.pid}/fd").iterdir()))

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")


@asynccontextmanager
async def runbridge_http(
    config: Path, *, env: dict[str, str], args: tuple[str, ...] = (), host: str = "127.0.0.1"
) -> AsyncIterator[Served]:
    """`runbridge serve --http` on a free port of `host` (loopback) until the block ends (then SIGTERM, and it must
    stop)."""
    port = free_port(host)
    stderr = config.with_name(f"serve-{port}.log")
    command = [*RUNBRIDGE, "--config", str(config), "serve", "--http", "--host", host, "--port", str(port), *args]
    with stderr.open("wb") as sink:
        process = await anyio.open_process(command, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        try:
            await wait_for_port(port, host=host)
            shown = f"[{host}]" if ":" in host else host
            yield Served(f"http://{shown}:{port}/mcp", process.pid, stderr)
        finally:
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(10):
                await process.wait()
