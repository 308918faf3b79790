"""Interop: the official TypeScript SDK's task client (1.x `client.experimental.tasks`, pinned in tests/interop)
drives runbridge's 2025-11-25 tasks over stdio: a gated run called as a task is polled, its gate asked by
elicitation in `tasks/result` and answered, and the result returned; another task is cancelled (its run with it);
the tasks are listed. And the 2026 tasks extension's client (`@modelcontextprotocol/ext-tasks`) over streamable
HTTP."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from transport_harness import INTEROP, INTEROP_MARKS, NODE, RUNBRIDGE, SECRET

from runbridge.cli.serve import http_app
from runbridge.core import Settings

pytestmark = INTEROP_MARKS


def test_the_typescript_task_client_polls_answers_cancels_and_lists_tasks(child_env: dict[str, str]) -> None:
    assert NODE is not None
    command = [NODE, str(INTEROP / "tasks.mjs"), "--target", "approval-demo", "--", *RUNBRIDGE, "serve"]
    done = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=90, cwd=INTEROP)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["protocolVersion"] == "2025-11-25"
    assert summary["taskSupport"]["runs_start"] == "optional"
    assert summary["taskSupport"]["runs_get"] is None
    kinds = [m["type"] for m in summary["messages"]]
    assert kinds[0] == "taskCreated"
    assert kinds[-1] == "result", summary["messages"]
    # The gate can be answered only by the elicitation in `tasks/result`, which the client asks once it sees the
    # task `input_required`: so the task is polled working until it is `input_required`, and then the result.
    polled = [m["status"] for m in summary["messages"] if m["type"] in ("taskCreated", "taskStatus")]
    assert polled[-1] == "input_required", summary["messages"]
    assert set(polled[:-1]) == {"working"}, summary["messages"]
    assert len(summary["elicitations"]) == 1
    assert "Approve the launch announcement" in summary["elicitations"][0]
    result = summary["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["decision"] == "accepted"
    assert result["structuredContent"]["status"] == "completed"
    assert summary["cancelled"]["status"] == "cancelled"
    listed = {t["taskId"]: t["status"] for t in summary["listed"]}
    assert listed[summary["cancelled"]["taskId"]] == "cancelled"
    assert listed[summary["messages"][0]["taskId"]] == "completed"
    assert SECRET not in summary["stderr"]


def test_the_2026_tasks_client_follows_a_task_through_its_gate_over_http(
    settings: Settings, serve_http: Callable[[Any], str]
) -> None:
    """`@modelcontextprotocol/ext-tasks` on the 2.x client, pinned to 2026-07-28 over streamable HTTP: the run tool
    answers with a task, the package polls it, answers the gate's input request through `tasks/update`, and gets
    the tool's result from the completed task."""
    assert NODE is not None
    if not (INTEROP / "node_modules" / "@modelcontextprotocol" / "ext-tasks").is_dir():
        pytest.skip("tests/interop/node_modules has no ext-tasks: run `npm ci --prefix tests/interop` (.ci/run does)")
    url = serve_http(http_app(settings, host="127.0.0.1"))
    command = [NODE, str(INTEROP / "tasks2026.mjs"), "--url", url, "--target", "approval-demo"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, cwd=INTEROP)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["era"] == "modern"
    assert summary["kind"] == "task"
    assert summary["statuses"][0] == "working"
    assert "input_required" in summary["statuses"]
    assert summary["outcome"] == "completed", summary["error"]
    assert len(summary["inputs"]) == 1
    assert "Approve the launch announcement" in summary["inputs"][0]
    report = summary["result"]["structuredContent"]
    assert report["decision"] == "accepted"
    assert report["outputs"]["result"] == "Announcement published."
