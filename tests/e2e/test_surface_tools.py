"""Every tool of the MCP surface, through the official client, against the OpenWOP sandbox on loopback."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import anyio
import pytest

from runbridge.core import Settings
from runbridge.sandbox import GateSpec, SandboxServer, Step, Workflow

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
ACCEPT = {"decision": "accept", "values": {"decision": "accept"}}


async def _all_events(transcript: Any, client: Any, run_id: str, limit: int) -> list[dict[str, Any]]:
    """A finished run's events, page by page, checking each page's cursor and `ended` flag on the way."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        args: dict[str, Any] = {"run_id": run_id, "limit": limit}
        if cursor is not None:
            args["cursor"] = cursor
        page = await transcript.ok(client, "runs_events", args)
        assert len(page["events"]) <= limit
        events += page["events"]
        if page["ended"]:
            assert "next_cursor" not in page  # an optional field that is None is left out
            return events
        assert page["events"], "a page of an ended run is never empty before the end"
        assert page["next_cursor"] == page["events"][-1]["seq"]
        cursor = page["next_cursor"]
    raise AssertionError("runs_events never reached the end")


async def test_profiles_list_shows_family_and_capabilities_and_no_secret(
    connect: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(10):
        async with connect(mode="legacy") as client:
            result = await transcript.call(client, "profiles_list")
    assert not result.is_error
    (profile,) = result.structured_content["profiles"]
    assert profile["name"] == "sandbox"
    assert profile["family"] == "openwop"
    assert profile["default"] is True
    assert "problem" not in profile
    assert {"runs", "gates", "fork", "targets"} <= set(profile["capabilities"])
    assert profile["base_url"] == sandbox.base_url
    assert sandbox.api_key not in json.dumps(result.structured_content)
    assert all(sandbox.api_key not in getattr(c, "text", "") for c in result.content)


async def test_targets_list_pages_with_a_cursor_and_describe_shows_the_steps(
    connect: Any, transcript: Any, settings: Settings
) -> None:
    workflows = settings.profiles["sandbox"].workflows
    with anyio.fail_after(10):
        async with connect(mode="legacy") as client:
            first = await transcript.ok(client, "targets_list", {"limit": 2})
            rest = await transcript.ok(client, "targets_list", {"cursor": first["next_cursor"]})
            described = await transcript.ok(client, "targets_describe", {"target_id": "quick-demo"})
    assert [t["id"] for t in first["targets"]] == workflows[:2]
    assert first["next_cursor"] is not None
    assert first["total"] == len(workflows)
    assert [t["id"] for t in rest["targets"]] == workflows[2:]
    assert "next_cursor" not in rest
    assert described["id"] == "quick-demo"
    assert described["step_count"] == 3
    assert [s["name"] for s in described["steps"]] == ["Greet", "Compute", "Finish"]
    assert [s["index"] for s in described["steps"]] == [1, 2, 3]


@pytest.mark.parametrize("mode", ERAS)
async def test_runs_get_shows_outputs_of_a_finished_run_and_the_open_gate_of_a_waiting_one(
    mode: str, connect: Any, transcript: Any
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:
            done = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
            finished = await transcript.ok(client, "runs_get", {"run_id": done["run_id"]})
            waiting = await transcript.ok(client, "runs_start", {"target_id": "approval-demo"})
            snapshot = await transcript.ok(client, "runs_get", {"run_id": waiting["run_id"]})
    assert finished["run"]["status"] == "completed"
    assert finished["run"]["outputs"]["result"] == "The answer is 42."
    assert finished["open_gates"] == []
    assert finished["cursor"] == done["cursor"]
    gate_id = waiting["waiting_for"]["gate_id"]
    assert snapshot["run"]["status"] == "waiting"
    assert snapshot["open_gates"] == [gate_id]
    assert snapshot["waiting_for"]["gate_id"] == gate_id
    assert snapshot["waiting_for"]["profile"] == "sandbox"
    assert "open_gate" not in snapshot["run"]


async def test_runs_events_pages_concatenate_to_the_whole_run_in_order_without_duplicates(
    connect: Any, transcript: Any
) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            report = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
            paged = await _all_events(transcript, client, report["run_id"], limit=4)
            whole = await _all_events(transcript, client, report["run_id"], limit=500)
    seqs = [int(e["seq"]) for e in paged]
    assert seqs == list(range(len(seqs))), "every event once, in order"
    assert len(paged) == report["events_seen"] == int(report["cursor"]) + 1
    assert paged == whole
    assert paged[0]["kind"] == "run.started"
    assert paged[-1]["kind"] == "run.completed"
    assert any(e["kind"] == "tool.called" and e["step"] == "Compute" for e in paged)


@pytest.mark.parametrize("mode", ERAS)
async def test_a_cancelled_run_refuses_its_gate_and_is_never_resumed(
    mode: str, connect: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:  # no elicitation: the gate comes back as `waiting_for`
            waiting = await transcript.ok(client, "runs_start", {"target_id": "approval-demo"})
            gate_id = waiting["waiting_for"]["gate_id"]
            cancels, resolves = sandbox.stats()["cancels"], sandbox.stats()["resolves"]
            cancelled = await transcript.ok(client, "runs_cancel", {"run_id": waiting["run_id"], "reason": "test"})
            refusal = await transcript.refused(client, "gates_respond", {"gate_id": gate_id, **ACCEPT})
            after = await transcript.ok(client, "runs_get", {"run_id": waiting["run_id"]})
            open_gates = await transcript.ok(client, "gates_list")
            all_gates = await transcript.ok(client, "gates_list", {"include_closed": True})
    assert cancelled["status"] == "cancelled"
    assert sandbox.stats()["cancels"] == cancels + 1
    assert gate_id in refusal
    assert "closed" in refusal
    assert sandbox.stats()["resolves"] == resolves, "the backend was never asked to resume"
    assert after["run"]["status"] == "cancelled"
    assert after["open_gates"] == []
    assert open_gates["gates"] == []
    assert [(g["gate_id"], g["state"]) for g in all_gates["gates"]] == [(gate_id, "closed")]


@pytest.mark.parametrize("target", ["quick-demo", "approval-demo"])
async def test_runs_fork_branches_a_finished_run_into_a_new_run_that_completes(
    target: str, connect: Any, human_factory: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    human = human_factory()  # dismisses every question; the source's gate is then answered with gates_respond
    with anyio.fail_after(20):
        async with connect(mode="legacy", human=human) as client:
            source = await transcript.ok(client, "runs_start", {"target_id": target})
            if not source["done"]:
                gate_id = source["waiting_for"]["gate_id"]
                source = await transcript.ok(client, "gates_respond", {"gate_id": gate_id, **ACCEPT})
            assert source["status"] == "completed"
            forks, asked = sandbox.stats()["forks"], len(human.questions)
            fork = await transcript.ok(client, "runs_fork", {"run_id": source["run_id"], "mode": "branch"})
    assert fork["run_id"] != source["run_id"]
    assert fork["status"] == "completed", fork
    assert fork["done"] is True
    assert fork["target_id"] == target
    assert fork["outputs"]["result"] == source["outputs"]["result"]
    assert sandbox.stats()["forks"] == forks + 1
    transcript.record(*human.questions)
    assert len(human.questions) == asked, "a gate settled in the source run is history, not a question"


async def test_forking_a_gated_run_mid_flight_on_a_slow_backend_asks_nothing_again(
    connect: Any, human_factory: Any, transcript: Any, slow_settings: Settings, slow_sandbox: SandboxServer
) -> None:
    """The fork is still running when its copied (already answered) gate is read: only the events that follow it
    in the copied history show that it was answered, and nobody is asked again."""
    gated = Workflow(
        id="gate-then-work",
        name="Gate, then slow work",
        steps=(
            Step("ask", "Ask", kind="gate", gate=GateSpec(kind="approval", title="Go ahead?")),
            Step("work", "Work", delay=40.0),  # 4 s on the slow sandbox
        ),
    )
    slow_sandbox.call(slow_sandbox.engine.register, gated)
    human = human_factory(("accept", {"decision": "accept"}))
    with anyio.fail_after(30):
        async with connect(mode="legacy", human=human, server_settings=slow_settings) as client:
            # Long enough to reach the gate and ask even on a busy machine, short of the work that follows it.
            source = await transcript.ok(client, "runs_start", {"target_id": gated.id, "wait_seconds": 1.0})
            fork = await transcript.ok(client, "runs_fork", {"run_id": source["run_id"]})
            finished = await transcript.ok(client, "runs_watch", {"run_id": source["run_id"]})
    transcript.record(*human.questions)
    assert source["decision"] == "accepted"
    assert source["status"] == "running", "the source was still working when it was forked"
    assert len(human.questions) == 1, "only the source run asked"
    assert fork["status"] == "completed", fork
    assert "decision" not in fork
    assert "waiting_for" not in fork
    assert finished["status"] == "completed"


@pytest.mark.parametrize("mode", ERAS)
async def test_runs_list_shows_the_runs_started_newest_first_and_filters_by_status(
    mode: str, connect: Any, transcript: Any
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:
            started = [
                (await transcript.ok(client, "runs_start", {"target_id": target}))["run_id"]
                for target in ("quick-demo", "failing-demo", "approval-demo", "quick-demo")
            ]
            await transcript.ok(client, "runs_get", {"run_id": started[0]})  # reading a run does not reorder
            listed = await transcript.ok(client, "runs_list")
            first = await transcript.ok(client, "runs_list", {"limit": 3})
            second = await transcript.ok(client, "runs_list", {"limit": 3, "cursor": first["next_cursor"]})
            completed = await transcript.ok(client, "runs_list", {"status": "completed"})
            failed = await transcript.ok(client, "runs_list", {"status": "failed"})
            waiting = await transcript.ok(client, "runs_list", {"status": "waiting"})
    newest_first = list(reversed(started))
    assert [r["run_id"] for r in listed["runs"]] == newest_first
    assert [r["target_id"] for r in listed["runs"]] == ["quick-demo", "approval-demo", "failing-demo", "quick-demo"]
    assert "next_cursor" not in listed
    assert [r["run_id"] for r in first["runs"] + second["runs"]] == newest_first
    assert "next_cursor" not in second
    assert [r["run_id"] for r in completed["runs"]] == [started[3], started[0]]
    assert [r["run_id"] for r in failed["runs"]] == [started[1]]
    assert "503" in failed["runs"][0]["error"]
    assert [r["run_id"] for r in waiting["runs"]] == [started[2]]
    updated = [r["updated_at"] for r in listed["runs"]]
    assert all(isinstance(u, str) and u for u in updated)
    assert all(a != b for a, b in pairwise(r["run_id"] for r in listed["runs"]))


async def test_gates_list_includes_answered_gates_only_when_asked(connect: Any, transcript: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            answered = await transcript.ok(client, "runs_start", {"target_id": "approval-demo"})
            answered_gate = answered["waiting_for"]["gate_id"]
            await transcript.ok(client, "gates_respond", {"gate_id": answered_gate, **ACCEPT})
            waiting = await transcript.ok(client, "runs_start", {"target_id": "clarify-demo"})
            open_gate = waiting["waiting_for"]["gate_id"]
            only_open = await transcript.ok(client, "gates_list")
            everything = await transcript.ok(client, "gates_list", {"include_closed": True})
            of_run = await transcript.ok(client, "gates_list", {"run_id": answered["run_id"], "include_closed": True})
    assert [g["gate_id"] for g in only_open["gates"]] == [open_gate]
    assert only_open["gates"][0]["kind"] == "clarification"
    assert {f["name"] for f in only_open["gates"][0]["fields"]} == {"audience", "tone"}
    assert "gates_respond" in only_open["gates"][0]["how_to_answer"]
    states = {g["gate_id"]: g["state"] for g in everything["gates"]}
    assert states == {answered_gate: "answered", open_gate: "open"}
    assert [g["gate_id"] for g in of_run["gates"]] == [answered_gate]
