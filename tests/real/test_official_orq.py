"""The official orq.ai client (`orq-ai-sdk` 4.17.13) judges the orq sandbox: every flow the adapter relies on, run
by the client in a virtual environment of its own against a sandbox in this process. The client's pydantic models
are strict (an unknown event type or a missing field fails them), so a sandbox answer or event it cannot read fails
here; and every event the sandbox recorded is validated against the client's stream event model once more.

orq.ai is hosted only: there is no real server on this machine, so the client is the judge of what the sandbox
sends, and the adapter is tested against the sandbox (tests/integration/test_orq_adapter.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from official_clients import client_python, drive, finished

from runbridge.sandbox import SandboxServer

FLOWS: list[dict[str, Any]] = [
    {"name": "crud", "flow": "crud", "key": "made-by-the-sdk"},
    {"name": "invoke", "flow": "invoke", "agent": "echo-agent", "text": "hi"},
    {"name": "task", "flow": "task", "agent": "echo-agent", "text": "not blocking"},
    {"name": "run", "flow": "run", "key": "run-by-the-sdk", "text": "inline, not streamed"},
    {"name": "echo", "flow": "stream", "agent": "echo-agent", "text": "hello"},
    {"name": "weather", "flow": "stream", "agent": "weather-agent", "text": "Paris", "tool_result": {"temp_c": 18}},
    {"name": "intake", "flow": "stream", "agent": "intake-agent", "text": "ord_7", "tool_result": "done"},
    {"name": "approved", "flow": "stream", "agent": "payments-agent", "text": "refund", "review": "approved"},
    {"name": "rejected", "flow": "stream", "agent": "payments-agent", "text": "refund", "review": "rejected"},
    {"name": "execution_review", "flow": "stream", "agent": "release-agent", "text": "ship it"},
    {"name": "handoff", "flow": "stream", "agent": "triage-lead", "text": "my invoices"},
    {"name": "timeout", "flow": "stream", "agent": "slow-agent", "text": "deep", "timeout": 1},
    {"name": "broken", "flow": "stream", "agent": "broken-agent", "text": "x"},
    {"name": "overloaded", "flow": "stream", "agent": "overloaded-agent", "text": "x"},
    {"name": "stream_run", "flow": "stream_run", "key": "inline-by-the-sdk", "text": "inline"},
    {"name": "responses", "flow": "responses", "agent": "echo-agent", "text": "a response"},
    {"name": "responses_stream", "flow": "responses", "agent": "triage-lead", "text": "streamed", "stream": True},
    {"name": "external", "flow": "external", "key": "remote-by-the-sdk"},
]


@pytest.fixture(scope="module")
def judged() -> Iterator[tuple[dict[str, Any], SandboxServer, Any]]:
    python = client_python("orq-ai-sdk")
    with SandboxServer("orq", keepalive_seconds=0.3) as sandbox:
        plan = {
            "base_url": sandbox.base_url,
            "api_key": sandbox.api_key,
            "review_url": f"{sandbox.base_url}/_sandbox/orq/reviews/{{task_id}}",
            "flows": FLOWS,
        }
        yield drive(python, "drive_orq.py", plan), sandbox, python


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def _inactive(events: list[dict[str, Any]]) -> dict[str, Any]:
    return next(e for e in events if e["type"] == "event.agents.inactive")


def test_agents_crud_with_pagination_both_ways(judged: Any) -> None:
    crud = finished(judged[0]["crud"])
    assert crud["created"]["key"] == "made-by-the-sdk"
    assert crud["listed"][0] == "made-by-the-sdk"  # newest first
    assert crud["listed"] == crud["all_at_once"]  # two at a time, nothing lost or repeated
    assert crud["pages"] == (len(crud["listed"]) + 1) // 2
    # `ending_before` the last page's first agent: the two agents just before it.
    last_page_start = crud["listed"].index(crud["before_last_page"][-1]) + 1
    assert crud["before_last_page"] == crud["listed"][last_page_start - 2 : last_page_start]
    assert crud["internal"] == len(crud["listed"])
    assert crud["updated"] == {"description": "Changed by the SDK", "version": "v1.1.0"}
    assert crud["after_delete"] == {"status": 404, "message": "Agent not found"}


def test_a_blocking_task(judged: Any) -> None:
    invoke = finished(judged[0]["invoke"])
    assert invoke["task"]["state"] == "completed"
    assert invoke["task"]["kind"] == "task"
    assert invoke["answer"] == ["You said: hi"]


def test_a_task_that_does_not_block_and_a_run_then_their_state(judged: Any) -> None:
    results = judged[0]
    for name, text in (("task", "not blocking"), ("run", "inline, not streamed")):
        got = finished(results[name])
        assert got["task"] == {"state": "submitted", "kind": "task"}, name
        assert got["polled"]["status"] == "completed", name
        assert got["polled"]["output"] == [f"You said: {text}"], name
        usage = got["polled"]["usage"]  # what the SDK's model of GET .../responses/{task_id} read
        assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (120, 30, 150), name


def test_a_streamed_task_read_to_done_through_the_sdks_event_models(judged: Any) -> None:
    echo = finished(judged[0]["echo"])
    assert _types(echo["events"]) == [
        "agents.execution_started",
        "event.agents.started",
        "event.agents.thought",
        "event.agents.execution_named",
        "event.agents.inactive",
    ]
    end = _inactive(echo["events"])
    assert end["last_message"] == "You said: hello"
    assert end["usage"]["total_tokens"] == 150
    assert end["billing"]["billable"] is True


def test_a_task_continued_with_tool_results(judged: Any) -> None:
    weather = finished(judged[0]["weather"])
    waiting = _inactive(weather["events"])
    assert waiting["finish_reason"] == "tool_calls"
    assert [(c["name"], c["arguments"]) for c in waiting["pending"]] == [("get_weather", '{"city": "Paris"}')]
    continued = weather["continued"]
    assert _types(continued)[:3] == ["agents.execution_started", "event.agents.started", "event.agents.message-created"]
    assert _inactive(continued)["last_message"] == 'The tool said: {"temp_c": 18}'


def test_several_client_tool_calls_one_carrying_a_schema(judged: Any) -> None:
    intake = finished(judged[0]["intake"])
    pending = _inactive(intake["events"])["pending"]
    assert [c["name"] for c in pending] == ["lookup_order", "ask_customer"]
    assert json.loads(pending[1]["arguments"])["schema"]["required"] == ["email"]
    assert _inactive(intake["continued"])["last_message"] == "The tool said: done; done"


def test_tool_and_execution_reviews(judged: Any) -> None:
    results = judged[0]
    approved, rejected = finished(results["approved"]), finished(results["rejected"])
    assert [e.get("review") for e in approved["events"] if e["type"] == "event.agents.action_reviewed"] == ["approved"]
    assert "event.workflow_events.tool_execution_finished" in _types(approved["events"])
    assert [e.get("review") for e in rejected["events"] if e["type"] == "event.agents.action_reviewed"] == ["rejected"]
    assert "event.workflow_events.tool_execution_started" not in _types(rejected["events"])
    execution = finished(results["execution_review"])
    assert {"event.agents.execution_review_required", "event.agents.execution_reviewed"} <= set(
        _types(execution["events"])
    )


def test_hand_off_timeout_and_errors(judged: Any) -> None:
    results = judged[0]
    handoff = finished(results["handoff"])
    assert [e["to"] for e in handoff["events"] if e["type"] == "event.agents.handed_off"] == ["billing-specialist"]
    assert "event.workflow_events.tool_execution_failed" in _types(handoff["events"])
    assert _types(finished(results["timeout"])["events"])[-1] == "agents.timeout"
    assert _types(finished(results["broken"])["events"])[-1] == "event.agents.errored"
    assert _types(finished(results["overloaded"])["events"])[-1] == "agents.error"


def test_inline_runs_responses_and_external_agents(judged: Any) -> None:
    results = judged[0]
    assert _inactive(finished(results["stream_run"])["events"])["last_message"] == "You said: inline"
    responses = finished(results["responses"])
    assert responses["created"]["finish_reason"] == "stop"
    assert responses["got"] == {"status": "completed", "output": ["You said: a response"]}
    streamed = finished(results["responses_stream"])["types"]
    assert streamed[0] == "response.started"
    assert streamed[-1] == "response.done"
    assert {"tool.started", "tool.failed", "tool.done", "part.delta", "part.done"} <= set(streamed)
    external = finished(results["external"])
    assert external == {
        "registered": "remote-by-the-sdk",
        "refreshed": True,
        "listed": {"remote-by-the-sdk": "a2a"},
        "internal": [],
        "externals": ["remote-by-the-sdk"],
        "got": "https://agents.example.com/a2a",
        "after_delete": [],
    }


def test_every_event_the_sandbox_emitted_validates_against_the_sdk(judged: Any) -> None:
    _, sandbox, python = judged

    def recorded() -> list[dict[str, Any]]:
        state = sandbox.apps["orq"].state.orq
        return [event for task in state.tasks.values() for event in task.events]

    events = sandbox.call(recorded)
    emitted = {e["type"] for e in events}
    assert len(emitted) == 17  # every documented type of the agents stream
    checked = drive(python, "drive_orq.py", {"base_url": sandbox.base_url, "api_key": "-", "flows": [
        {"name": "all", "flow": "validate", "events": events}
    ]})["all"]  # fmt: skip
    assert checked["errors"] == []
    assert len(checked["passed"]) == len(events)
