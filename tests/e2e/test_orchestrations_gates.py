"""Synapse orchestrations end to end, through the official MCP client in the 2025 (live elicitation) and 2026
(input required) eras: a select field and a free-text field answered by a person, a second gate after a resume,
the fallback without elicitation, progress toward the step total, usage and the cost limit."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.e2e.conftest import ok, one_profile

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
KEY_ENV = "RUNBRIDGE_E2E_SYNAPSE_KEY"
REASON = "Fetching the dataset failed: the upstream API answered 503 three times."


@pytest.fixture(scope="module")
def synapse() -> Iterator[SandboxServer]:
    with SandboxServer("orchestrations", keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def settings(synapse: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The conftest's `connect` builds runbridge on these: one orchestrations profile on the Synapse sandbox."""
    monkeypatch.setenv(KEY_ENV, synapse.api_key)
    profile = Profile(name="synapse", family="orchestrations", base_url=synapse.base_url, api_key_env=KEY_ENV)
    return one_profile(profile)


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("waiting_for", "outputs")}


@pytest.mark.parametrize("mode", ERAS)
async def test_the_seed_orchestration_asks_a_select_and_a_free_text_field_and_completes(
    mode: str, connect: Any, human_factory: Any, progress: Any, synapse: SandboxServer
) -> None:
    human = human_factory(("accept", {"decision": "approve", "notes": "Excellent research, publish immediately."}))
    before = synapse.stats()["runs_created"]
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            result = await client.call_tool(
                "runs_start",
                {"target_id": "orch-research-report", "message": "Synapse AI platform"},
                progress_callback=progress,
            )
            report = ok(result)
            snapshot = ok(await client.call_tool("runs_get", {"run_id": report["run_id"]}))
    assert report["status"] == "completed", _brief(report)
    assert report["decision"] == "accepted"
    assert report["outputs"]["response"] == "Research and report generation complete."
    state = report["outputs"]["shared_state"]
    assert state["user_input"] == "Synapse AI platform"
    assert state["human_response"] == {"decision": "approve", "notes": "Excellent research, publish immediately."}
    assert synapse.stats()["runs_created"] == before + 1
    assert len(human.questions) == 1
    question = human.questions[0]
    assert "Please review the draft article and decide whether to publish." in question.message
    assert "Draft article:" in question.message  # the agent context is shown to the human
    schema = question.requested_schema  # type: ignore[union-attr]
    assert schema["required"] == ["decision"]
    decision = schema["properties"]["decision"]
    choices = [o["const"] for o in decision["oneOf"]] if "oneOf" in decision else decision["enum"]
    assert choices == ["approve", "reject"]
    assert decision["title"] == "Decision"
    assert schema["properties"]["notes"] == {"title": "Editor notes", "type": "string"}
    # usage: cost and turns from the run's step history, in the report and on runs_get
    assert report["usage"]["cost_usd"] == pytest.approx(0.052)
    assert report["usage"]["turns"] == 5
    assert snapshot["run"]["usage"]["cost_usd"] == pytest.approx(0.052)
    assert snapshot["run"]["status"] == "completed"
    # progress: toward the number of steps, readable, strictly increasing
    totals = {total for _, total, _ in progress.updates}
    assert totals == {5.0}, progress.updates
    values = [p for p, _, _ in progress.updates]
    assert all(a < b for a, b in pairwise(values)), "progress must strictly increase"
    messages = [m or "" for _, _, m in progress.updates]
    assert "step 2/5 Research: tool web_search" in messages
    assert any(m.startswith("step 4/5 Approval: waiting for a human") for m in messages)
    assert values[-1] == 5.0


@pytest.mark.parametrize("mode", ERAS)
async def test_a_second_gate_after_a_resume_is_asked_the_same_way(mode: str, connect: Any, human_factory: Any) -> None:
    human = human_factory(
        ("accept", {"decision": "revise", "notes": "Tighter, please."}),
        ("accept", {"headline": "Three findings that matter"}),
    )
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            report = ok(await client.call_tool("runs_start", {"target_id": "orch-two-gates"}))
    assert report["status"] == "completed", _brief(report)
    assert [q.requested_schema["required"] for q in human.questions] == [["decision"], ["headline"]]  # type: ignore[union-attr]
    assert "Write the headline" in human.questions[1].message
    state = report["outputs"]["shared_state"]
    assert state["review_output"] == {"decision": "revise", "notes": "Tighter, please."}
    assert state["headline_output"] == {"headline": "Three findings that matter"}


@pytest.mark.parametrize("mode", ERAS)
async def test_without_elicitation_the_waiting_result_and_gates_respond_finish_the_run(
    mode: str, connect: Any, synapse: SandboxServer
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode, human=None) as client:
            first = ok(await client.call_tool("runs_start", {"target_id": "orch-two-gates"}))
            assert first["status"] == "waiting"
            gate = first["waiting_for"]
            assert gate["kind"] == "input"
            assert gate["step"] == "Outline review"
            assert "A human must decide this, not you" in gate["how_to_answer"]
            assert [f["name"] for f in gate["fields"]] == ["decision", "notes"]
            assert gate["fields"][0]["options"] == ["approve", "revise"]
            answer = {"gate_id": gate["gate_id"], "decision": "accept", "values": {"decision": "approve"}}
            second = ok(await client.call_tool("gates_respond", answer))
            assert second["status"] == "waiting"
            headline = second["waiting_for"]
            assert headline["gate_id"].endswith(":step-headline")
            answer = {"gate_id": headline["gate_id"], "decision": "accept", "values": {"headline": "Done"}}
            done = ok(await client.call_tool("gates_respond", answer))
            assert done["status"] == "completed", _brief(done)
            again = await client.call_tool("gates_respond", answer)
    assert again.is_error
    assert "already answered" in again.content[0].text  # type: ignore[union-attr]
    assert synapse.stats().get("resumes_without_gate", 0) == 0


async def test_after_a_restart_the_open_gate_is_answered_and_the_resume_streams_the_rest(
    connect: Any, settings: Settings, tmp_path: Path
) -> None:
    durable = settings.model_copy(update={"state_path": str(tmp_path / "state.db")})
    with anyio.fail_after(30):
        async with connect(mode="legacy", human=None, server_settings=durable) as client:
            first = ok(await client.call_tool("runs_start", {"target_id": "orch-research-report"}))
        assert first["status"] == "waiting"
        run_id, gate_id = first["run_id"], first["waiting_for"]["gate_id"]
        async with connect(mode="legacy", human=None, server_settings=durable) as client:  # runbridge restarted
            watched = ok(await client.call_tool("runs_watch", {"run_id": run_id}))
            history = ok(await client.call_tool("runs_events", {"run_id": run_id}))
            listed = ok(await client.call_tool("gates_list", {}))
            answer = {"gate_id": gate_id, "decision": "accept", "values": {"decision": "approve"}}
            done = ok(await client.call_tool("gates_respond", answer))
    # the gate runbridge recorded is put again; the events before the restart are those runbridge stored with the run
    # (v1 cannot replay them)
    assert (watched["status"], watched["waiting_for"]["gate_id"]) == ("waiting", gate_id)
    assert history["events"][-1]["kind"] == "gate.opened"
    assert history["events"][0]["seq"] == "1"
    assert "stored" in history["note"]
    assert [g["gate_id"] for g in listed["gates"]] == [gate_id]
    assert done["status"] == "completed", _brief(done)
    assert done["outputs"]["shared_state"]["human_response"] == {"decision": "approve"}


@pytest.mark.parametrize("mode", ERAS)
async def test_a_cost_limit_breach_comes_back_as_a_failed_run_with_the_reason(mode: str, connect: Any) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode) as client:
            report = ok(await client.call_tool("runs_start", {"target_id": "orch-cost-limit"}))
    assert report["status"] == "failed"
    assert report["done"] is True
    assert report["error"] == "Cost limit exceeded: $0.52 > max $0.50"


async def test_the_catalogue_shows_orchestrations_with_their_steps(connect: Any) -> None:
    with anyio.fail_after(30):
        async with connect(mode="auto") as client:
            listed = ok(await client.call_tool("targets_list", {"limit": 100}))
            described = ok(await client.call_tool("targets_describe", {"target_id": "orch-research-report"}))
    assert [t["id"] for t in listed["targets"]] == [
        "orch-research-report",
        "orch-cost-limit",
        "orch-two-gates",
        "orch-quick-summary",
    ], "the sandbox lists its orchestrations, not the other families' examples"
    seed = next(t for t in listed["targets"] if t["id"] == "orch-research-report")
    assert (seed["kind"], seed["step_count"]) == ("orchestration", 5)
    assert [s["name"] for s in described["steps"]] == ["Plan", "Research", "Draft", "Approval", "Report"]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_failed_runs_reason_survives_a_cut_before_the_final_summary(
    mode: str, connect: Any, synapse: SandboxServer
) -> None:
    """A v1 stream cut between `orchestration_complete` and the run-level `final`: `runs_start` still reports the
    failed run with the reason the stream showed, and `runs_get` agrees."""
    with anyio.fail_after(30):
        async with connect(mode=mode) as client:
            whole = ok(await client.call_tool("runs_start", {"target_id": "failing-demo"}))
            emitted = [t for _, t in synapse.context.stats.emitted_events(whole["run_id"])]
            assert emitted[-2:] == ["orchestration_complete", "final"], emitted
            plan = {"_sandbox": {"drop_after": [len(emitted) - 1]}}
            drops = synapse.stats()["stream_drops"]
            cut = ok(await client.call_tool("runs_start", {"target_id": "failing-demo", "inputs": plan}))
            snapshot = ok(await client.call_tool("runs_get", {"run_id": cut["run_id"]}))
    assert synapse.stats()["stream_drops"] == drops + 1, "the stream was cut"
    assert (whole["status"], whole["error"]) == ("failed", REASON)
    assert (cut["status"], cut["done"], cut["source"], cut["error"]) == ("failed", True, "stream", REASON)
    assert (snapshot["run"]["status"], snapshot["run"]["error"]) == ("failed", REASON)
    history = snapshot["run"]["details"]["step_history"]
    assert [(h["step_id"], h["status"]) for h in history] == [("prepare", "completed"), ("fetch", "failed")]
