"""The orchagent.io gateway's official Python SDK (`orchagent-sdk` 0.1.13, `AgentClient.call`) judges the platform
sandbox: it calls the sandbox's agents (synchronous and managed-loop ones, a pinned and the latest version, along
a call chain) and meets its refusals (a missing secret, an unknown agent, a wrong key), in a virtual environment of
its own (it installs a module named `orchagent`, as the self-hosted server's SDK does). A sandbox answer the SDK
cannot read fails here; what the sandbox recorded (its workspace runs) is checked beside what the SDK read.

orchagent.io is hosted only: there is no real server here, so the SDK's reading is the judge of the sandbox's call
wire; the management shapes follow the official CLI's code (tests/sandbox/test_platform_cli_shapes.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from official_clients import client_python, drive

from runbridge.sandbox import SandboxServer

CALLS: list[dict[str, Any]] = [
    {"name": "summary", "agent": "acme/summarizer@v2", "input": {"text": "judged by the official SDK today"}},
    {"name": "scan", "agent": "acme/invoice-scanner@v1", "input": {"text": "Invoice 7"}, "endpoint": "analyze"},
    {"name": "loop", "agent": "acme/repo-auditor@v1", "input": {"repo": "acme/api"}},
    {"name": "latest", "agent": "joe/translator@latest", "input": {"text": "hello", "to": "fr"}},
    {
        "name": "chained",
        "agent": "joe/translator@v1",
        "input": {"text": "hi", "to": "de"},
        "call_chain": ["acme/orchestrator@v1"],
        "max_hops": 3,
    },
    {"name": "secrets", "agent": "acme/slack-notifier@v1", "input": {"message": "hi"}},
    {"name": "unknown", "agent": "joe/nothing@v1", "input": {}},
    {"name": "bad input", "agent": "acme/summarizer@v1", "input": {}},
    {"name": "wrong key", "agent": "acme/summarizer@v1", "input": {"text": "x"}, "key": "sk_live_wrong"},
]


@pytest.fixture(scope="module")
def judged() -> Iterator[tuple[dict[str, Any], SandboxServer]]:
    python = client_python("orchagent-sdk-platform")
    with SandboxServer("platform") as sandbox:
        plan = {"base_url": sandbox.base_url, "key": sandbox.api_key, "calls": CALLS}
        yield drive(python, "drive_platform.py", plan), sandbox


_SINCE = datetime.now(UTC)


def _runs(sandbox: SandboxServer) -> list[Any]:
    """The workspace runs the SDK's calls made (the sandbox's month of history left out)."""
    state = sandbox.apps["platform"].state.platform  # type: ignore[attr-defined]
    return sandbox.call(lambda: [r for r in state.data.runs if r.started_at >= _SINCE])


def test_the_sdk_reads_each_agents_output_out_of_the_envelope(judged: Any) -> None:
    results, _ = judged
    assert results["summary"] == {
        "result": {"summary": "judged by the official SDK today", "bullets": ["judged", "by", "the"]}
    }
    assert results["scan"] == {"result": {"vendor": "ACME", "amount": 1234.5}}  # warnings stay in the envelope
    assert results["loop"]["result"]["summary"] == "Audited acme/api"  # a managed loop answers in one piece too
    assert results["latest"] == {"result": {"translation": "[fr] hello"}}


def test_a_call_along_a_chain_is_recorded_as_an_agents_call(judged: Any) -> None:
    results, sandbox = judged
    assert results["chained"] == {"result": {"translation": "[de] hi"}}
    chained = [r for r in _runs(sandbox) if r.input_data == {"text": "hi", "to": "de"}]
    assert [r.trigger_source for r in chained] == ["agent"]
    assert [(r.agent_name, r.agent_version, r.status) for r in chained] == [("translator", "v1", "completed")]


def test_the_sdk_keeps_the_platforms_error_envelopes(judged: Any) -> None:
    results, _ = judged
    secrets = results["secrets"]
    assert secrets["raised"] == "DependencyCallError"
    assert secrets["status"] == 400
    assert secrets["body"]["error"]["code"] == "MISSING_SECRETS"
    assert secrets["body"]["error"]["message"].endswith("not found in workspace: SLACK_TOKEN.")
    assert secrets["body"]["error"]["is_retryable"] is False
    assert results["unknown"]["status"] == 404
    assert results["unknown"]["body"]["error"]["code"] == "NOT_FOUND"
    assert results["bad input"]["status"] == 400
    assert results["bad input"]["body"]["error"]["code"] == "INVALID_INPUT"
    assert results["wrong key"]["status"] == 401
    assert results["wrong key"]["body"]["error"]["code"] == "UNAUTHORIZED"
    for name in ("secrets", "unknown", "bad input", "wrong key"):
        assert results[name]["body"]["metadata"]["request_id"].startswith("req_"), name


def test_every_call_the_sdk_made_is_a_workspace_run(judged: Any) -> None:
    results, sandbox = judged
    answered = [name for name, result in results.items() if "result" in result]
    runs = _runs(sandbox)
    assert len(runs) == len(answered) == 5, "refused calls make no run"
    assert all(r.status == "completed" and r.input_tokens > 0 for r in runs)
