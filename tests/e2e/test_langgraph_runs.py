"""The LangGraph family end to end on its sandbox, through the official MCP client (in memory): a review run whose
gate is answered in both eras and through gates_respond, two interrupts at once, a resume refused once the thread
moved on, cancel, fork from a checkpoint, and threads. The same flows run against the real Agent Server in
tests/real/test_langgraph_runs_real.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mcp import Client
from tests.e2e.conftest import ok, one_profile
from tests.mcp_people import Human, Progress

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_LG_E2E_KEY"


@pytest.fixture(scope="module")
def langgraph() -> Iterator[SandboxServer]:
    with SandboxServer("langgraph") as server:
        yield server


@pytest.fixture
def settings(langgraph: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The conftest's `connect` builds runbridge on these: one langgraph profile on the LangGraph sandbox."""
    monkeypatch.setenv(KEY_ENV, langgraph.api_key)
    profile = Profile(
        name="lg", family="langgraph", base_url=langgraph.base_url, api_key_env=KEY_ENV, options={"poll_seconds": 0.1}
    )
    return one_profile(profile)


def refused(result: Any) -> str:
    assert result.is_error, result.structured_content
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    assert "Traceback" not in text
    return text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_review_gate_is_asked_live_in_either_era_and_the_run_completes(
    mode: str, connect: Callable[..., Any]
) -> None:
    human = Human(("accept", {"choice": "approve"}))
    progress = Progress()
    async with connect(mode, human) as client:
        result = ok(
            await client.call_tool(
                "runs_start", {"target_id": "review", "inputs": {"topic": "wrens"}}, progress_callback=progress
            )
        )
    assert result["status"] == "completed", result
    assert result["outputs"]["published"] is True
    (question,) = human.questions
    assert question.message.startswith("Publish this draft? A short note on wrens.")
    assert any("Draft ready: A short note on wrens." in m for m in progress.messages)


async def test_without_elicitation_the_gates_are_answered_with_gates_respond_and_a_late_answer_is_refused(
    connect: Callable[..., Any],
) -> None:
    async with connect("legacy") as client:
        waiting = ok(await client.call_tool("runs_start", {"target_id": "pair"}))
        first = waiting["waiting_for"]
        answer = {"choice": "no"} if first["step"] == "legal" else {"answer": "[1, 2]"}
        after = ok(
            await client.call_tool(
                "gates_respond", {"gate_id": first["gate_id"], "decision": "accept", "values": answer}
            )
        )
        second = after["waiting_for"]
        other = {"choice": "no"} if second["step"] == "legal" else {"answer": "[1, 2]"}
        done = ok(
            await client.call_tool(
                "gates_respond", {"gate_id": second["gate_id"], "decision": "accept", "values": other}
            )
        )
        again = refused(
            await client.call_tool(
                "gates_respond", {"gate_id": second["gate_id"], "decision": "accept", "values": other}
            )
        )
    assert {first["step"], second["step"]} == {"legal", "budget"}
    assert done["status"] == "completed", done
    assert sorted(done["outputs"]["answers"], key=str) == sorted([{"legal": "no"}, {"budget": [1, 2]}], key=str)
    assert "gate" in again.lower()


async def test_cancel_and_fork_from_a_checkpoint(connect: Callable[..., Any]) -> None:
    human = Human(("accept", {"choice": "approve"}), ("accept", {"choice": "reject"}))
    async with connect("legacy", human) as client:
        ticking = ok(
            await client.call_tool(
                "runs_start", {"target_id": "ticker", "inputs": {"ticks": 100, "delay": 0.05}, "wait_seconds": 0.5}
            )
        )
        cancelled = ok(await client.call_tool("runs_cancel", {"run_id": ticking["run_id"]}))
        done = ok(await client.call_tool("runs_start", {"target_id": "review", "inputs": {"topic": "jays"}}))
        events = ok(await client.call_tool("runs_events", {"run_id": done["run_id"], "limit": 200}))["events"]
        drafted = next(e for e in events if e["kind"] == "step.completed" and e.get("step") == "draft")
        fork = ok(await client.call_tool("runs_fork", {"run_id": done["run_id"], "from_seq": int(drafted["seq"])}))
    assert cancelled["status"] == "cancelled"
    assert fork["status"] == "completed", fork
    assert fork["outputs"]["published"] is False
    assert fork["outputs"]["draft"] == "A short note on jays."
    assert len(human.questions) == 2


async def test_threads_take_messages_for_their_assistant(connect: Callable[..., Any]) -> None:
    human = Human(("accept", {"choice": "approve"}))
    async with connect("legacy", human) as client:
        thread = ok(await client.call_tool("threads_create", {"spec": {"assistant_id": "review"}}))
        sent = ok(await client.call_tool("threads_send", {"thread_id": thread["thread_id"], "user_prompt": "hello"}))
        history = ok(await client.call_tool("threads_history", {"thread_id": thread["thread_id"]}))
    assert sent["status"] == "completed", sent
    assert [m["content"] for m in history["items"]][-1] == "Published."


async def test_stream_mode_messages_gives_the_runs_messages_as_the_agent_server_sends_them(
    langgraph: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`messages` stream mode: the sandbox sends `messages/metadata` and `messages/complete`, as the Agent Server
    does (tests/real/test_langgraph_runs_real.py), and the nodes' messages are the run's message events."""
    monkeypatch.setenv(KEY_ENV, langgraph.api_key)
    options = {"poll_seconds": 0.1, "stream_modes": ["updates", "messages"]}
    settings = one_profile(
        Profile(name="lg", family="langgraph", base_url=langgraph.base_url, api_key_env=KEY_ENV, options=options)
    )
    async with Client(build_server(settings), mode="legacy") as client:
        waiting = ok(await client.call_tool("runs_start", {"target_id": "review", "inputs": {"topic": "cranes"}}))
        answer = {"gate_id": waiting["waiting_for"]["gate_id"], "decision": "accept", "values": {"choice": "approve"}}
        done = ok(await client.call_tool("gates_respond", answer))
        events = ok(await client.call_tool("runs_events", {"run_id": waiting["run_id"], "limit": 200}))["events"]
    assert done["status"] == "completed", done
    messages = [(e["type"], e["text"]) for e in events if e["kind"] == "message"]
    assert messages == [
        ("messages/complete", "Draft ready: A short note on cranes."),
        ("messages/complete", "Published."),
    ], events
