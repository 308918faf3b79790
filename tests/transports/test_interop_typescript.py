"""Interop: the official TypeScript MCP client (tests/interop, pinned @modelcontextprotocol/sdk 1.x) drives
`runbridge serve` over stdio through a gated run: elicitation declared and answered, progress followed, and the
run's resource subscribed to."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from transport_harness import RUNBRIDGE, SECRET

INTEROP = Path(__file__).resolve().parents[1] / "interop"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="Node.js is not installed (the interop test needs `node` on PATH)"),
    pytest.mark.skipif(
        not (INTEROP / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir(),
        reason="tests/interop/node_modules is missing: run `npm ci --prefix tests/interop` (.ci/run does)",
    ),
]


def test_the_typescript_client_completes_a_gated_run_with_progress_over_stdio(child_env: dict[str, str]) -> None:
    assert NODE is not None
    command = [NODE, str(INTEROP / "drive.mjs"), "--target", "approval-demo", "--"]
    command += [*RUNBRIDGE, "--log-level", "DEBUG", "serve"]
    done = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=60, cwd=INTEROP)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["server"] == "runbridge"
    assert summary["protocolVersion"] == "2025-11-25"
    assert {"runs_start", "runs_watch", "gates_respond"} <= set(summary["tools"])
    assert summary["progress"] > 0
    assert len(summary["elicitations"]) == 1
    assert "Approve the launch announcement" in summary["elicitations"][0]
    assert summary["isError"] is False
    assert summary["status"] == "completed"
    assert summary["decision"] == "accepted"
    assert summary["subscribe"] is True, "resources.subscribe is advertised to 2025 clients"
    assert summary["updates"], "the subscribed run resource was never said to have changed"
    assert set(summary["updates"]) == {f"runbridge://sandbox/runs/{summary['runId']}"}
    assert "DEBUG" in summary["stderr"]
    assert SECRET not in summary["stderr"]
