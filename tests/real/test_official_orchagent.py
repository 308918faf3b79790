"""The orchagent SDK (`orchagent` 0.1.3, the client of the self-hosted threads/runs server) judges the orchagent
sandbox: every flow its README documents (auth, meta, threads, secrets, messages, the SSE stream, resume after an
auth gate, tool approvals, the chat helper, history), run by the SDK in a virtual environment of its own against a
sandbox in this process. A sandbox answer the SDK cannot read fails here.

There is no real orchagent server on this machine, so these flows are checked against the sandbox only; what the
sandbox itself recorded (the run's status, the gates' answers) is checked beside what the SDK read. The SDK has no
cancel, and neither has the server: there is no cancel flow to judge.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from official_clients import client_python, drive, finished

from runbridge.sandbox import SandboxServer

FLOWS: list[dict[str, Any]] = [
    {"name": "account", "flow": "account", "email": "judge@example.com", "password": "pw-official"},
    {"name": "chat", "flow": "chat", "workflow": "chat", "prompt": "hello from the SDK"},
    {"name": "approve", "flow": "gates", "workflow": "tool-approval-chat", "prompt": "runbridge"},
    {"name": "deny", "flow": "gates", "workflow": "tool-approval-chat", "prompt": "nothing", "approve": False},
    {"name": "calendar", "flow": "gates", "workflow": "calendar-hil-chat", "prompt": "book a sync"},
]


@pytest.fixture(scope="module", params=["reference", "top-level", "held-open"])
def judged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The SDK's reading of every flow on one sandbox variant, and that sandbox (to check what it recorded). On
    `held-open` the server keeps the stream open after the run ended: the SDK reads with no timeout and never ends
    the iteration itself, so its caller stops at `run.completed`/`error`, as the driver does."""
    python = client_python("orchagent-sdk-local")
    with SandboxServer("orchagent", variant=request.param, keepalive_seconds=0.5) as sandbox:
        token_file = Path(tmp_path_factory.mktemp("orchagent")) / "token.json"
        plan = {"base_url": sandbox.base_url, "token_file": str(token_file), "flows": FLOWS}
        yield drive(python, "drive_orchagent.py", plan), sandbox, token_file


def engine_run(sandbox: SandboxServer, run_id: str) -> tuple[str, list[Any]]:
    """The run's status and the answers its gates took, as the sandbox recorded them."""

    def read() -> tuple[str, list[Any]]:
        run = sandbox.engine.get_run(run_id)
        return run.status, [e.payload.get("value") for e in run.events if e.type == "gate.resolved"]

    return sandbox.call(read)


def test_the_sdk_registers_logs_in_and_reads_meta(judged: Any) -> None:
    results, _, token_file = judged
    account = finished(results["account"])
    assert account["registered"]
    assert account["logged_in"]
    assert account["token_saved"]
    assert token_file.is_file()  # the SDK saved the token where it was told to
    assert account["meta"]["name"] == "orchagent"


def test_the_sdk_chats_and_reads_the_history(judged: Any) -> None:
    chat = finished(judged[0]["chat"])
    assert chat["types"][0] == "run.started"
    assert chat["types"][-1] == "run.completed"
    assert chat["answer"] == "You said: hello from the SDK"
    assert chat["history"] == [["user", "hello from the SDK"], ["assistant", "You said: hello from the SDK"]]


def test_the_sdk_approves_a_tool_and_resumes(judged: Any) -> None:
    results, sandbox, _ = judged
    flow = finished(results["approve"])
    assert flow["asked"] == [
        {"server": "mcp", "tool": "tavily_search", "args": {"query": "runbridge", "max_results": 3}}
    ]
    assert flow["approved"][0]["ok"] is True
    assert flow["resumed"] == [{"ok": True, "run_id": flow["run_id"], "resumed": "tool_approval", "approved": True}]
    # The second connection replays the first one's events before the new ones (the SDK must skip them).
    assert flow["replayed"][1] == flow["connections"][0]
    assert flow["connections"][1][0] == "run.resumed"
    assert flow["end"]["type"] == "run.completed"
    assert flow["history"][-1] == ["assistant", "Found 3 results for runbridge."]
    assert flow["cleared"] == {"ok": True, "cleared": 1}
    assert engine_run(sandbox, flow["run_id"]) == ("completed", [{"action": "approve"}])


def test_resuming_without_an_approval_denies_the_tool(judged: Any) -> None:
    results, sandbox, _ = judged
    flow = finished(results["deny"])
    assert "approved" not in flow
    assert flow["resumed"][0]["approved"] is False
    assert flow["end"]["type"] == "error"
    assert engine_run(sandbox, flow["run_id"]) == ("failed", [{"action": "deny"}])


def test_the_sdk_passes_an_auth_gate_then_a_tool_approval(judged: Any) -> None:
    results, sandbox, _ = judged
    flow = finished(results["calendar"])
    assert [c[-1] for c in flow["connections"]] == ["auth.required", "approval.required", "run.completed"]
    # Where the server puts the sign-in link (in `details`, or at the top level) the SDK hands it over as sent.
    assert flow["auth"][0]["redirect_url"].startswith(f"{sandbox.base_url}/oauth/authorize?")
    assert [r["resumed"] for r in flow["resumed"]] == ["auth", "tool_approval"]
    assert flow["asked"][0]["tool"] == "GOOGLECALENDAR_CREATE_EVENT"
    status, answers = engine_run(sandbox, flow["run_id"])
    assert status == "completed"
    assert answers == [{"authorized": True}, {"action": "approve"}]
