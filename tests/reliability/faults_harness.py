"""Driving runbridge through the official MCP client against sandboxes that break things on purpose.

Profiles and settings per family, one run followed to its end across as many calls as that takes (with the
progress each call sent), every event of a run as `runs_events` lists it, the checks a tool error must pass, the
sandbox's request log, and what it takes to stop a `runbridge serve` subprocess on purpose (its config, its pid).
Imported explicitly by the fault modules; the fixtures they share are in `conftest.py`.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

MakeSandbox = Callable[..., SandboxServer]
"""The `make_sandbox(family, **options)` fixture of `conftest.py`."""

DEADLINE = 30.0
OPENWOP_WORKFLOWS = ["quick-demo", "failing-demo", "long-demo", "approval-demo"]


def profile_for(family: str, where: SandboxServer | str, key_env: str, *, name: str = "rel", **fields: Any) -> Profile:
    """A profile on a sandbox (or a base URL) whose key is read from `key_env` (orchagent reads it as its token)."""
    base_url = where if isinstance(where, str) else where.base_url
    data: dict[str, Any] = {"name": name, "family": family, "base_url": base_url, "api_key_env": key_env}
    if family == "openwop":
        data["workflows"] = OPENWOP_WORKFLOWS
    if family == "orchagent":
        data["options"] = {"status_idle_seconds": 0.1}
    data.update(fields)
    return Profile.model_validate(data)


def settings_for(*profiles: Profile, **overrides: Any) -> Settings:
    """One notification per event: no coalescing, and heartbeats too rare to show up in a test."""
    base: dict[str, Any] = {
        "state_path": ":memory:",
        "wait_seconds": 15,
        "heartbeat_seconds": 60,
        "progress_interval_seconds": 0,
    }
    return Settings.model_validate({"profiles": {p.name: p for p in profiles}, **base, **overrides})


@asynccontextmanager
async def connect(settings: Settings, *, mode: str = "auto") -> AsyncIterator[Client]:
    """The official client, in memory, on a fresh runbridge built on `settings`."""
    async with Client(build_server(settings), mode=mode) as client:
        yield client


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)[:800]
    assert result.structured_content is not None
    return result.structured_content


def assert_curated_error(result: CallToolResult, *secrets: str) -> str:
    """A tool error a model can act on: words only, no stack trace, no source path, no secret. Returns its text."""
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    text = text_of(result)
    assert text.strip(), "an empty tool error"
    for leak in ("Traceback", 'File "', "site-packages", *secrets):
        assert leak not in text, f"{leak!r} in a tool error: {text[:500]}"
    return text


@dataclass
class Call:
    """One tool call that follows a run: its report and the progress messages it sent, in order."""

    report: dict[str, Any]
    progress: list[tuple[float, str]] = field(default_factory=list[tuple[float, str]])


@dataclass
class Followed:
    """A run followed from its start to its end (or until runbridge said it cannot follow it any more)."""

    calls: list[Call]

    @property
    def final(self) -> dict[str, Any]:
        return self.calls[-1].report

    @property
    def run_id(self) -> str:
        return str(self.final["run_id"])

    @property
    def messages(self) -> list[str]:
        """Every progress message of every call, in the order the client received them."""
        return [message for call in self.calls for _, message in call.progress]

    @property
    def events_seen(self) -> int:
        return sum(int(call.report["events_seen"]) for call in self.calls)

    def progress_increases_in_every_call(self) -> bool:
        return all(a < b for call in self.calls for (a, _), (b, _) in pairwise(call.progress))


async def follow_call(client: Client, tool: str, args: dict[str, Any]) -> Call:
    progress: list[tuple[float, str]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message or ""))

    result = await client.call_tool(tool, args, progress_callback=on_progress)
    return Call(structured(result), progress)


async def follow_to_end(client: Client, start: dict[str, Any], *, max_calls: int = 6) -> Followed:
    """`runs_start`, then `runs_watch` while the report says the run goes on and can still be followed."""
    with anyio.fail_after(DEADLINE):
        calls = [await follow_call(client, "runs_start", start)]
        while not calls[-1].report["done"] and calls[-1].report["source"] != "lost":
            assert len(calls) < max_calls, f"still not over after {len(calls)} calls: {calls[-1].report}"
            calls.append(await follow_call(client, "runs_watch", {"run_id": calls[-1].report["run_id"]}))
    return Followed(calls)


async def listed_events(client: Client, run_id: str, *, cursor: str | None = None) -> list[tuple[str, str]]:
    """(seq, type) of every event `runs_events` lists after `cursor`, page after page, until the run's end."""
    events: list[tuple[str, str]] = []
    with anyio.fail_after(DEADLINE):
        while True:
            args: dict[str, Any] = {"run_id": run_id, "limit": 500}
            if cursor is not None:
                args["cursor"] = cursor
            page = structured(await client.call_tool("runs_events", args))
            events += [(str(e["seq"]), str(e["type"])) for e in page["events"]]
            cursor = page.get("next_cursor")
            if page["ended"] or cursor is None or not page["events"]:
                return events


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_times(sandbox: SandboxServer, route: str) -> list[tuple[float, int]]:
    """(arrival time, status) of every request to `route` the sandbox answered, in order."""
    return [(e["at"], e["status"]) for e in sandbox.context.stats.request_log() if e["route"] == route]


def gaps(times: list[tuple[float, int]]) -> list[float]:
    return [b - a for (a, _), (b, _) in pairwise(times)]


async def until(condition: Callable[[], bool], *, within: float) -> float:
    """Seconds until `condition()` holds (it is polled: the sandbox runs in another thread), failing after `within`."""
    started = anyio.current_time()
    with anyio.fail_after(within):
        while not condition():
            await anyio.sleep(0.01)  # polls a condition, bounded by fail_after
    return anyio.current_time() - started


def write_config(path: Path, profile: Profile, **server: Any) -> Path:
    """A runbridge.toml with one profile (its key by reference, as a user writes it) and `[server]` settings."""
    lines = ["[server]", *(f"{k} = {json.dumps(v)}" for k, v in server.items()), "", f"[profiles.{profile.name}]"]
    body = profile.model_dump(mode="json", exclude={"name", "options"}, exclude_none=True)
    lines += [f"{k} = {json.dumps(v)}" for k, v in body.items()]
    options = profile.options.model_dump(mode="json", exclude_defaults=True)
    if options:
        lines += [f"[profiles.{profile.name}.options]", *(f"{k} = {json.dumps(v)}" for k, v in options.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def openwop_config(path: Path, sandbox: SandboxServer, key_env: str, *, profile: str = "rel", **server: Any) -> Path:
    """A runbridge.toml at `path` with `[server]` settings and one openwop profile on `sandbox` offering approval-demo
    (its key by reference, in `key_env`)."""
    workflows = ["approval-demo"]
    rel = Profile(name=profile, family="openwop", base_url=sandbox.base_url, api_key_env=key_env, workflows=workflows)
    return write_config(path, rel, **server)


def serve_command(pid_file: Path, *args: str, status_file: Path | None = None) -> list[str]:
    """`python -m runbridge serve ARGS`, started through a one-line shim that writes its pid to `pid_file` and then
    becomes runbridge (exec keeps the pid): so a test can signal the very process the MCP client talks to.

    With `status_file`, the shim instead starts runbridge as its child (sharing its stdin and stdout), writes the
    child's pid, and once it ended writes how (`Popen.returncode`: -N for signal N) to `status_file`: the MCP client
    owns the process it started, so this is how a test learns how runbridge itself ended."""
    if status_file is None:
        shim = (
            "import os, sys; open(sys.argv[1], 'w').write(str(os.getpid())); "
            "os.execv(sys.executable, [sys.executable, '-m', 'runbridge', 'serve', *sys.argv[2:]])"
        )
        return [sys.executable, "-c", shim, str(pid_file), *args]
    shim = (
        "import os, subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-m', 'runbridge', 'serve', *sys.argv[3:]]); "
        "open(sys.argv[1], 'w').write(str(p.pid)); "
        "code = p.wait(); f = open(sys.argv[2] + '.part', 'w'); f.write(str(code)); f.close(); "
        "os.replace(sys.argv[2] + '.part', sys.argv[2])"  # whole, or not there yet
    )
    return [sys.executable, "-c", shim, str(pid_file), str(status_file), *args]


def is_running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, exited and not yet reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def wait_for_port(port: int, *, within: float = 20) -> None:
    """Return once 127.0.0.1:port accepts connections (a server in a subprocess has started)."""
    with anyio.fail_after(within):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)  # polls a condition, bounded by fail_after
                continue
            await stream.aclose()
            return


@asynccontextmanager
async def serving_over_stdio(
    folder: Path, name: str, env: dict[str, str], *args: str
) -> AsyncIterator[tuple[Client, int]]:
    """`runbridge serve ARGS` as a new process with `env` (its stderr in `folder/NAME.stderr`), the official MCP client
    without elicitation (2025 era) connected to it, and the process's pid (to signal it)."""
    pid_file = folder / f"{name}.pid"
    command = serve_command(pid_file, *args)
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    with open(folder / f"{name}.stderr", "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            yield client, int(pid_file.read_text())
