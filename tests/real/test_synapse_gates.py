"""Synapse 1.9.2 human steps, driven through runbridge over stdio by the official MCP client: one gate (select, text
and number fields) in each kind of client, two gates in one run, and a cancel at a gate. Every test checks what the
server itself recorded (the run's status and the answers in its shared state), not only what runbridge said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from real_client import CLIENTS, Runbridge, call, error_text, structured
from real_synapse import REVIEW, SynapseHost, assert_readable, profile
from tests.mcp_people import Human, Progress

pytestmark = pytest.mark.anyio


def choices(prop: dict[str, Any]) -> list[str]:
    """The values a form property offers (`enum`, or titled `oneOf` consts)."""
    return list(prop.get("enum") or [c["const"] for c in prop.get("oneOf", [])])


@pytest.mark.parametrize("client", CLIENTS)
async def test_one_gate_with_select_text_and_number_fields_reaches_the_server_as_answered(
    client: str, synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    human = Human(("accept", dict(REVIEW)))
    progress = Progress()
    async with rb.connect(client, human) as mcp:
        result = structured(
            await call(mcp, "runs_start", {"target_id": "rt-one-gate", "message": "cats"}, progress_callback=progress)
        )
        run_id = result["run_id"]
        if client == "no-elicitation":
            gate = result["waiting_for"]
            assert result["status"] == "waiting"
            assert synapse.run(run_id)["status"] == "paused"
            assert gate["step"] == "Editor review"
            assert gate["prompt"] == "Publish this draft?"
            assert [(f["name"], f["type"]) for f in gate["fields"]] == [
                ("decision", "select"),
                ("notes", "text"),
                ("budget", "number"),
            ]
            assert gate["fields"][0]["options"] == ["approve", "reject"]
            assert gate["context"] == {"agent_context": "Draft for cats"}
            answer = {"gate_id": gate["gate_id"], "decision": "accept", "values": dict(REVIEW)}
            result = structured(await call(mcp, "gates_respond", answer, progress_callback=progress))
        else:
            (question,) = human.questions
            assert "Publish this draft?" in question.message
            assert "Draft for cats" in question.message
            props = question.requested_schema["properties"]  # type: ignore[union-attr]
            assert choices(props["decision"]) == ["approve", "reject"]
            assert props["notes"]["type"] == "string"
            assert props["budget"]["type"] == "number"
    assert result["status"] == "completed", result
    assert result["decision"] == "accepted"
    server = synapse.run(run_id)
    assert server["status"] == "completed"
    assert server["shared_state"]["review"] == REVIEW  # the number stayed a number
    assert result["outputs"]["shared_state"]["review"] == REVIEW
    assert_readable(progress, ids=("s-draft", "s-review", "s-publish", "s-end"))
    assert any("Publish it" in m for m in progress.messages)


@pytest.mark.parametrize("client", ["legacy", "modern"])
async def test_two_gates_in_one_run_are_each_put_to_the_human_and_answered_by_field_name(
    client: str, synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    human = Human(("accept", {"who": "Ada"}), ("accept", {"copies": 3, "format": "pdf"}))
    progress = Progress()
    async with rb.connect(client, human) as mcp:
        result = structured(await call(mcp, "runs_start", {"target_id": "rt-two-gates"}, progress_callback=progress))
    assert result["status"] == "completed", result
    assert [q.message.splitlines()[0] for q in human.questions] == ["Your name?", "How many copies?"]
    second = human.questions[1].requested_schema  # type: ignore[union-attr]
    assert second["properties"]["copies"]["type"] == "number"
    assert choices(second["properties"]["format"]) == ["pdf", "html"]
    state = synapse.run(result["run_id"])["shared_state"]
    assert synapse.run(result["run_id"])["status"] == "completed"
    # One text field still answers by its name: a bare string would be stored as {"response": "Ada"}.
    assert state["first"] == {"who": "Ada"}
    assert state["second"] == {"copies": 3, "format": "pdf"}
    assert_readable(progress, ids=("s-first", "s-second", "s-done", "s-end"))


async def test_cancel_at_a_gate_says_the_server_still_shows_the_run_paused_and_runbridge_never_resumes_it(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    async with rb.connect("no-elicitation") as mcp:
        waiting = structured(await call(mcp, "runs_start", {"target_id": "rt-one-gate", "message": "dogs"}))
        run_id, gate_id = waiting["run_id"], waiting["waiting_for"]["gate_id"]
        first = structured(await call(mcp, "runs_cancel", {"run_id": run_id}))
        second = structured(await call(mcp, "runs_cancel", {"run_id": run_id}))
        refused = error_text(
            await call(mcp, "gates_respond", {"gate_id": gate_id, "decision": "accept", "values": dict(REVIEW)})
        )
        snapshot = structured(await call(mcp, "runs_get", {"run_id": run_id}))
    assert first["status"] == "cancelled"
    assert "never resume" in first["note"]
    assert "still shows the run paused" in first["note"]
    assert "Editor review" in first["note"]
    assert first["note"] != "The run is cancelled."
    assert second["note"] == "The run was already cancelled; nothing changed."
    assert "cancel" in refused.lower() or "closed" in refused.lower()
    assert snapshot["run"]["status"] == "cancelled"
    assert snapshot.get("waiting_for") is None
    assert snapshot["open_gates"] == []
    server = synapse.run(run_id)
    assert server["status"] == "paused"  # what the note said: v1 has no cancel
    assert server["waiting_for_human"] is True
    assert "review" not in server["shared_state"]  # never resumed


async def test_cancel_on_a_running_v1_run_refuses_and_next_never_suggests_it(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    async with rb.connect("no-elicitation") as mcp:
        handle = structured(await call(mcp, "runs_start", {"target_id": "rt-slow", "wait_seconds": 0.5}))
        run_id = handle["run_id"]
        snapshot = structured(await call(mcp, "runs_get", {"run_id": run_id}))
        refused = error_text(await call(mcp, "runs_cancel", {"run_id": run_id}))
        server_then = synapse.run(run_id)["status"]
        done = structured(await call(mcp, "runs_watch", {"run_id": run_id, "wait_seconds": 30}))
    assert handle["status"] == "running"
    assert server_then == "running"
    assert "runs_cancel" not in handle["next"]
    assert "runs_cancel" not in snapshot["next"]
    assert "cannot cancel a running orchestration" in refused
    assert "has not stopped it" in refused
    assert done["status"] == "completed"
    assert synapse.run(run_id)["status"] == "completed"
