"""Interop: the official TypeScript MCP clients (tests/interop) drive `runbridge serve` over stdio through a gated run:
the 1.x SDK (`@modelcontextprotocol/sdk`) with elicitation declared and answered, progress followed, and the run's
resource subscribed to; the 2.x client (`@modelcontextprotocol/client`) in the 2026 era, through input_required."""

from __future__ import annotations

import json
import subprocess

import pytest
from transport_harness import INTEROP, INTEROP_MARKS, NODE, RUNBRIDGE, SECRET

from runbridge.sandbox import SandboxServer

pytestmark = INTEROP_MARKS


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


def test_the_2x_client_in_the_2026_era_is_asked_again_after_an_answer_that_does_not_fit(
    child_env: dict[str, str], sandbox: SandboxServer
) -> None:
    """`@modelcontextprotocol/client` 2.x, pinned to 2026-07-28, fulfils runbridge's `input_required` through its
    elicitation handler: a misfit answer brings the same question back (saying why), the second answer completes
    the run, and the backend was resumed once, in one run."""
    if not (INTEROP / "node_modules" / "@modelcontextprotocol" / "client").is_dir():
        pytest.skip("tests/interop/node_modules has no 2.x client: run `npm ci --prefix tests/interop` (.ci/run does)")
    assert NODE is not None
    before = sandbox.stats()
    answers = json.dumps([{"decision": "maybe"}, {"decision": "accept"}])
    command = [NODE, str(INTEROP / "gate.mjs"), "--answers", answers, "--", *RUNBRIDGE, "serve"]
    done = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=60, cwd=INTEROP)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    after = sandbox.stats()
    assert summary["era"] == "modern"
    first, again = summary["elicitations"]
    assert "Approve the launch announcement" in first
    assert again.startswith("The answer did not fit the question: decision must be one of"), again
    assert again.endswith(first)
    assert summary["isError"] is False, summary["text"]
    assert summary["status"] == "completed"
    assert summary["decision"] == "accepted"
    assert after["runs_created"] == before["runs_created"] + 1
    assert after["resolves"] == before["resolves"] + 1
    assert SECRET not in done.stdout
