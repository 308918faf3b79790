"""Synapse 1.9.2 runs through runbridge over stdio: what a run reads as after runbridge restarts (while it waits, and
after runs ended), after the server itself restarts while a run waits, a step that failed inside a run the server
calls completed, `runs_events` paging, `runs_list`, and an orchestration edited between runs. Synapse v1 has no run
status, so everything runbridge says after a restart comes from what it recorded; the server's own record of each
run (its internal API) is what the tests check it against."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from real_client import Runbridge, call, error_text, structured
from real_synapse import REVIEW, SynapseHost, assert_readable, edited, profile
from tests.mcp_people import Human, Progress

pytestmark = pytest.mark.anyio


def step_errors(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    return list(outputs.get("step_errors") or [])


async def test_a_step_that_failed_inside_a_completed_run_shows_in_the_result(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    progress = Progress()
    async with rb.connect("legacy") as mcp:
        result = structured(await call(mcp, "runs_start", {"target_id": "rt-raising"}, progress_callback=progress))
    server = synapse.run(result["run_id"])
    # The server's word: the run completed, and so did the step (its history says so) although it raised.
    assert server["status"] == "completed"
    assert [h["status"] for h in server["step_history"]] == ["completed", "completed"]
    assert result["status"] == "completed"
    (failed,) = step_errors(result["outputs"])
    assert failed["step"] == "Divide by zero"
    assert failed["error"].endswith("ZeroDivisionError: division by zero")
    assert "Traceback" not in str(result)
    assert "Divide by zero failed" in progress.messages[-1]  # the last word, not only a passing message
    assert_readable(progress, ids=("s-hello", "s-boom", "s-end"))


async def test_runs_events_pages_through_every_event_once_and_runs_list_lists_the_runs(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    async with rb.connect("legacy") as mcp:
        done = structured(await call(mcp, "runs_start", {"target_id": "rt-plain", "message": "you"}))
        pages: list[dict[str, Any]] = []
        cursor = None
        for _ in range(20):  # bounded: the run has about ten events
            page = structured(await call(mcp, "runs_events", {"run_id": done["run_id"], "limit": 3, "cursor": cursor}))
            pages.append(page)
            cursor = page.get("next_cursor")
            if not cursor:
                break
        listed = structured(await call(mcp, "runs_list", {}))
    events = [e for p in pages for e in p["events"]]
    assert all(len(p["events"]) <= 3 for p in pages)
    assert len(pages) >= 3
    seqs = [int(e["seq"]) for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # every event, once, in order
    assert len(events) == done["events_seen"]
    assert events[-1]["kind"] == "run.completed"
    assert not [e["text"] for e in events if "_" in e["text"]]  # words, not raw event types
    assert [(r["run_id"], r["status"]) for r in listed["runs"]] == [(done["run_id"], "completed")]
    assert synapse.run(done["run_id"])["shared_state"]["total"] == 5


async def test_runbridge_restarted_keeps_what_it_knew_of_each_run_and_finishes_the_waiting_one(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    async with rb.connect("no-elicitation") as mcp:
        waiting = structured(await call(mcp, "runs_start", {"target_id": "rt-one-gate", "message": "owls"}))
        plain = structured(await call(mcp, "runs_start", {"target_id": "rt-plain", "message": "x"}))
        raising = structured(await call(mcp, "runs_start", {"target_id": "rt-raising"}))
        abandoned = structured(await call(mcp, "runs_start", {"target_id": "rt-one-gate"}))
        structured(await call(mcp, "runs_cancel", {"run_id": abandoned["run_id"]}))
    expected = {
        waiting["run_id"]: "waiting",
        plain["run_id"]: "completed",
        raising["run_id"]: "completed",
        abandoned["run_id"]: "cancelled",
    }
    for _ in range(2):  # restarted twice: reading the runs after the first restart must not have changed them
        async with rb.connect("no-elicitation") as mcp:
            got = {run_id: structured(await call(mcp, "runs_get", {"run_id": run_id})) for run_id in expected}
            listed = structured(await call(mcp, "runs_list", {}))
            waiting_now = structured(await call(mcp, "runs_list", {"status": "waiting"}))
            gates = structured(await call(mcp, "gates_list", {}))
            # v1 cannot replay a run's events: after a restart runs_events lists those runbridge stored with the run.
            stored = structured(await call(mcp, "runs_events", {"run_id": plain["run_id"], "limit": 500}))
        assert {run_id: got[run_id]["run"]["status"] for run_id in expected} == expected
        assert {r["run_id"]: r["status"] for r in listed["runs"]} == expected
        assert got[plain["run_id"]]["run"]["outputs"]["shared_state"]["total"] == 5
        assert step_errors(got[raising["run_id"]]["run"]["outputs"])[0]["step"] == "Divide by zero"
        assert got[waiting["run_id"]]["waiting_for"]["step"] == "Editor review"
        assert [r["run_id"] for r in waiting_now["runs"]] == [waiting["run_id"]]
        assert [g["gate_id"] for g in gates["gates"]] == [waiting["waiting_for"]["gate_id"]]
        assert "Still running" not in str(got)
        assert stored["ended"]
        assert stored["events"][-1]["kind"] == "run.completed"
        assert len(stored["events"]) == plain["events_seen"]
        assert "stored" in stored["note"]
        assert "runs_cancel" not in got[plain["run_id"]]["next"]
    assert synapse.run(waiting["run_id"])["status"] == "paused"
    assert synapse.run(abandoned["run_id"])["status"] == "paused"

    # Restarted again: runs_watch puts the waiting gate to the human, and the resumed run reads by step names.
    human = Human(("accept", dict(REVIEW)))
    progress = Progress()
    async with rb.connect("legacy", human) as mcp:
        finished = structured(await call(mcp, "runs_watch", {"run_id": waiting["run_id"]}, progress_callback=progress))
        ended = structured(await call(mcp, "runs_watch", {"run_id": plain["run_id"]}))
    assert finished["status"] == "completed", finished
    assert len(human.questions) == 1
    assert any("Publish it" in m for m in progress.messages)
    assert_readable(progress, ids=("s-draft", "s-review", "s-publish", "s-end"))
    server = synapse.run(waiting["run_id"])
    assert server["status"] == "completed"
    assert server["shared_state"]["review"] == REVIEW
    # A run that ended before the restart is reported as it ended, not as lost.
    assert (ended["status"], ended["source"]) == ("completed", "stream")
    assert ended["outputs"]["shared_state"]["total"] == 5


async def test_a_run_waiting_while_the_server_restarts_is_answered_after_it(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    async with rb.connect("no-elicitation") as mcp:
        waiting = structured(await call(mcp, "runs_start", {"target_id": "rt-one-gate", "message": "bees"}))
        synapse.restart()  # killed and started again on the same data: the paused run survives
        assert synapse.run(waiting["run_id"])["status"] == "paused"
        snapshot = structured(await call(mcp, "runs_get", {"run_id": waiting["run_id"]}))
        answer = {"gate_id": waiting["waiting_for"]["gate_id"], "decision": "accept", "values": dict(REVIEW)}
        done = structured(await call(mcp, "gates_respond", answer))
    assert snapshot["run"]["status"] == "waiting"
    assert done["status"] == "completed", done
    server = synapse.run(waiting["run_id"])
    assert server["status"] == "completed"
    assert server["shared_state"]["review"] == REVIEW


async def test_an_orchestration_edited_on_the_server_is_read_again_with_its_new_steps(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    synapse.internal("POST", "/api/orchestrations", edited("rt-edit", 2))
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    async with rb.connect("legacy") as mcp:
        before = structured(await call(mcp, "targets_describe", {"target_id": "rt-edit"}))
        first = Progress()
        structured(await call(mcp, "runs_start", {"target_id": "rt-edit"}, progress_callback=first))
        synapse.internal("POST", "/api/orchestrations", edited("rt-edit", 4))
        after = structured(await call(mcp, "targets_describe", {"target_id": "rt-edit"}))
        second = Progress()
        run = structured(await call(mcp, "runs_start", {"target_id": "rt-edit"}, progress_callback=second))
    assert (before["step_count"], after["step_count"]) == (3, 5)
    assert {total for _, total, _ in first.updates} == {3.0}
    assert {total for _, total, _ in second.updates} == {5.0}
    assert any("step 4/5 Print 4" in m for m in second.messages)
    assert len(synapse.run(run["run_id"])["step_history"]) == 4
    assert_readable(second, ids=("s-1", "s-2", "s-3", "s-4", "s-end"))


async def test_a_v2_profile_on_a_server_without_scale_mode_says_what_to_change_after_one_request(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(synapse, "v1", "v2"), synapse.api_key)
    before = synapse.requests_to("/api/v2/")
    async with rb.connect("legacy") as mcp:
        refused = [
            error_text(await call(mcp, "runs_get", {"run_id": "run_rt-plain_1"})),
            error_text(await call(mcp, "runs_start", {"target_id": "rt-plain"})),
        ]
    for text in refused:
        assert 'answered 503 "Scale mode is not enabled"' in text
        assert 'remove "v2" from the profile\'s options.api_versions' in text
    assert synapse.requests_to("/api/v2/") - before == 1  # permanent: neither retried nor asked again


async def test_runs_get_on_an_id_nobody_knows_is_no_such_run_and_records_nothing(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    """Synapse v1 has no run status, so it cannot say a run does not exist: runbridge, which has no record of it
    either, says "no such run" and records nothing (runs_list and usage_report unchanged)."""
    rb = Runbridge(tmp_path, profile(synapse), synapse.api_key)
    async with rb.connect("legacy") as mcp:
        before = structured(await call(mcp, "usage_report", {}))
        got = error_text(await call(mcp, "runs_get", {"run_id": "hello"}))
        watched = error_text(await call(mcp, "runs_watch", {"run_id": "hello"}))
        listed = structured(await call(mcp, "runs_list", {}))
        after = structured(await call(mcp, "usage_report", {}))
    assert "No such run 'hello'" in got
    assert "No such run 'hello'" in watched
    assert listed["runs"] == []
    assert after["total"] == before["total"]
    assert after["total"]["runs"] == 0
