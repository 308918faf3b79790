"""Helpers for the transport tests: runbridge as a subprocess, scripted humans, and waiting for a port."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult
from tests.ports import free_port as free_port

KEY_ENV = "RUNBRIDGE_TRANSPORT_SANDBOX_KEY"
# Distinctive, so that finding it in a log or on stdout cannot be a coincidence.
SECRET = "sk-rbx-Transport7Q9zLk2Secret"
WORKFLOWS = ["approval-demo", "quick-demo"]
RUNBRIDGE = [sys.executable, "-m", "runbridge"]
ERAS = ["legacy", "auto"]

# The TypeScript drivers (tests/interop), and what a module running them is marked with: `node`, skipped without
# Node.js on PATH or without the official TypeScript SDK installed there.
INTEROP = Path(__file__).resolve().parents[1] / "interop"
NODE = shutil.which("node")
INTEROP_MARKS = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="Node.js is not installed (the interop test needs `node` on PATH)"),
    pytest.mark.skipif(
        not (INTEROP / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir(),
        reason="tests/interop/node_modules is missing: run `npm ci --prefix tests/interop` (.ci/run does)",
    ),
]


def write_config(path: Path, base_url: str, *, profile_extra: str = "") -> Path:
    """A runbridge.toml with one openwop profile; its key is named (`api_key_env`), never written."""
    path.write_text(
        "[server]\n"
        'state_path = ":memory:"\n'
        "wait_seconds = 15\n"
        "progress_interval_seconds = 0\n"
        "\n"
        "[profiles.sandbox]\n"
        'family = "openwop"\n'
        f'base_url = "{base_url}"\n'
        f'api_key_env = "{KEY_ENV}"\n'
        f"workflows = {json.dumps(WORKFLOWS)}\n"
        f"{profile_extra}",
        encoding="utf-8",
    )
    return path


def run_cli(*args: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`runbridge ARGS` to completion, stdin closed, output captured as text."""
    return subprocess.run(
        [*RUNBRIDGE, *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


class Human:
    """A scripted person giving one answer to every elicitation; every question is kept."""

    def __init__(self, action: str = "accept", content: dict[str, Any] | None = None) -> None:
        self.action = action
        self.content = content if content is not None or action != "accept" else {"decision": "accept"}
        self.questions: list[ElicitRequestParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        del context
        self.questions.append(params)
        return ElicitResult(action=self.action, content=self.content)  # type: ignore[arg-type]


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def wait_for_port(port: int, *, within: float = 15) -> None:
    """Return once 127.0.0.1:port accepts a connection (a server in a subprocess has started)."""
    with anyio.fail_after(within):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)  # polls a condition, bounded by fail_after
                continue
            await stream.aclose()
            return
