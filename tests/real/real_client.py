"""runbridge as an MCP host runs it, against a real backend: `python -m runbridge serve` over stdio, driven by the
official MCP client in either era (or declaring no elicitation at all), with its registry in a file so that a second
runbridge started on the same file is "runbridge restarted"."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from tests.mcp_people import Human

KEY_ENV = "RUNBRIDGE_REAL_KEY"
# The three kinds of client a gate is tested with: a 2025 client answering live forms, a 2026 client answering
# input_required results, and a client that declares no elicitation (it gets `waiting_for` and uses gates_respond).
CLIENTS = ["legacy", "modern", "no-elicitation"]


class Runbridge:
    """One configuration of runbridge (a profile on a real backend, a registry file); `connect()` starts a fresh
    runbridge process on it each time, as a host does for each window."""

    def __init__(self, workdir: Path, profile: dict[str, Any], api_key: str, *, server: dict[str, Any] | None = None):
        self.workdir = workdir
        self.api_key = api_key
        self.state_path = workdir / "state.db"
        self.config = workdir / "runbridge.toml"
        server_table = {"state_path": str(self.state_path), "wait_seconds": 20, "progress_interval_seconds": 0}
        server_table.update(server or {})
        lines = ["[server]", *(f"{k} = {json.dumps(v)}" for k, v in server_table.items()), "", "[profiles.real]"]
        lines += [f"{k} = {_toml(v)}" for k, v in {**profile, "api_key_env": KEY_ENV}.items()]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.stderr_path = workdir / "runbridge.stderr"

    @asynccontextmanager
    async def connect(self, client: str = "legacy", human: Human | None = None) -> AsyncIterator[Client]:
        """`client`: one of CLIENTS. The human answers elicitations (a client without elicitation gets none)."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        env.update({"RUNBRIDGE_CONFIG": str(self.config), KEY_ENV: self.api_key})
        params = StdioServerParameters(command=sys.executable, args=["-m", "runbridge", "serve"], env=env)
        mode = "auto" if client == "modern" else "legacy"
        callback = None if client == "no-elicitation" else (human or Human())
        with self.stderr_path.open("a", encoding="utf-8") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode=mode, elicitation_callback=callback) as mcp:  # type: ignore[arg-type]
                yield mcp

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8") if self.stderr_path.exists() else ""


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, "\n".join(getattr(c, "text", "") for c in result.content)
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: Any) -> str:
    assert result.is_error, f"expected a tool error, got {result.structured_content}"
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    assert "Traceback" not in text
    return text


async def call(client: Client, name: str, args: dict[str, Any], *, within: float = 60, **kw: Any) -> Any:
    with anyio.fail_after(within):
        return await client.call_tool(name, args, **kw)


def tempdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def openwop_profile(base_url: str, workflows: list[str], **extra: Any) -> dict[str, Any]:
    return {"family": "openwop", "base_url": base_url, "workflows": workflows, **extra}
