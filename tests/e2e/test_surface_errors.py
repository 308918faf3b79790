"""Bad input through the MCP surface: curated tool errors the model can act on, never a stack trace or a secret,
and a server that keeps serving afterwards."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
WRONG_KEY_ENV = "RUNBRIDGE_E2E_WRONG_KEY"
WRONG_KEY = "sk-e2e-wrong-7f3c9a51d2e84b06"


@pytest.mark.parametrize("mode", ERAS)
async def test_unknown_ids_are_clear_tool_errors_and_the_server_keeps_serving(
    mode: str, connect: Any, transcript: Any
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:
            get = await transcript.refused(client, "runs_get", {"run_id": "run_does_not_exist"})
            watch = await transcript.refused(client, "runs_watch", {"run_id": "run_does_not_exist", "wait_seconds": 1})
            events = await transcript.refused(client, "runs_events", {"run_id": "run_does_not_exist"})
            cancel = await transcript.refused(client, "runs_cancel", {"run_id": "run_does_not_exist"})
            fork = await transcript.refused(client, "runs_fork", {"run_id": "run_does_not_exist"})
            target = await transcript.refused(client, "targets_describe", {"target_id": "no-such-workflow"})
            start = await transcript.refused(client, "runs_start", {"target_id": "no-such-workflow"})
            gate = await transcript.refused(client, "gates_respond", {"gate_id": "gate-nope", "decision": "decline"})
            listed = await transcript.ok(client, "runs_list")
            ok = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
    for text in (get, watch, events, cancel, fork):
        assert "run_does_not_exist" in text, text
        assert "not found" in text.lower(), text
    assert "no-such-workflow" in target
    assert "not found" in target.lower()
    assert "not found" in start.lower()
    assert "Unknown gate 'gate-nope'" in gate
    assert "gates_list" in gate or "Open gates" in gate
    assert listed["runs"] == [], "an unknown run is not recorded as one runbridge follows"
    assert ok["status"] == "completed"


async def test_arguments_of_the_wrong_type_name_the_field(connect: Any, transcript: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            limit = await transcript.refused(client, "runs_list", {"limit": "ten"})
            inputs = await transcript.refused(client, "runs_start", {"target_id": "quick-demo", "inputs": 5})
            missing = await transcript.refused(client, "runs_get", {})
            status = await transcript.refused(client, "runs_list", {"status": "sleeping"})
            too_many = await transcript.refused(client, "runs_events", {"run_id": "x", "limit": 10_000})
            cursor = await transcript.refused(client, "runs_list", {"cursor": "page-two"})
            ok = await transcript.ok(client, "runs_list", {"limit": 5})
    assert "limit" in limit
    assert "inputs" in inputs
    assert "run_id" in missing
    assert "status" in status
    assert "limit" in too_many
    assert "cursor" in cursor.lower()
    assert ok["runs"] == []


async def test_an_unknown_profile_lists_the_configured_ones(connect: Any, transcript: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            texts = [
                await transcript.refused(client, name, {**args, "profile": "staging"})
                for name, args in [
                    ("runs_list", {}),
                    ("runs_start", {"target_id": "quick-demo"}),
                    ("targets_list", {}),
                    ("gates_list", {}),
                ]
            ]
            ok = await transcript.ok(client, "targets_list", {"profile": "sandbox", "limit": 1})
    for text in texts:
        assert "Unknown profile 'staging'" in text
        assert "Configured profiles: sandbox" in text
    assert ok["profile"] == "sandbox"


@pytest.mark.parametrize("mode", ERAS)
async def test_an_answer_outside_the_gates_schema_is_refused_and_the_gate_stays_answerable(
    mode: str, connect: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:
            waiting = await transcript.ok(client, "runs_start", {"target_id": "approval-demo"})
            gate_id = waiting["waiting_for"]["gate_id"]
            resolves = sandbox.stats()["resolves"]
            maybe = await transcript.refused(
                client, "gates_respond", {"gate_id": gate_id, "decision": "accept", "values": {"decision": "maybe"}}
            )
            unknown_field = await transcript.refused(
                client, "gates_respond", {"gate_id": gate_id, "decision": "accept", "values": {"mood": "good"}}
            )
            bad_decision = await transcript.refused(client, "gates_respond", {"gate_id": gate_id, "decision": "maybe"})
            still_open = await transcript.ok(client, "gates_list")
            assert sandbox.stats()["resolves"] == resolves, "nothing reached the backend"
            done = await transcript.ok(
                client, "gates_respond", {"gate_id": gate_id, "decision": "accept", "values": {"decision": "accept"}}
            )
            twice = await transcript.refused(
                client, "gates_respond", {"gate_id": gate_id, "decision": "accept", "values": {"decision": "accept"}}
            )
            ok = await transcript.ok(client, "runs_get", {"run_id": waiting["run_id"]})
    assert "must be one of ['accept', 'reject', 'refine']" in maybe
    assert "'maybe'" in maybe
    assert "mood" in unknown_field
    assert "decision" in bad_decision
    assert [(g["gate_id"], g["state"]) for g in still_open["gates"]] == [(gate_id, "open")]
    assert done["status"] == "completed"
    assert done["decision"] == "accepted"
    assert "already answered" in twice
    assert sandbox.stats()["resolves"] == resolves + 1, "answered exactly once"
    assert ok["run"]["status"] == "completed"


async def test_a_rejected_key_is_a_clear_error_that_never_shows_the_key(
    connect: Any, transcript: Any, settings: Settings, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WRONG_KEY_ENV, WRONG_KEY)
    transcript.secrets.append(WRONG_KEY)
    wrong = Profile(name="wrong", family="openwop", base_url=sandbox.base_url, api_key_env=WRONG_KEY_ENV)
    both = settings.model_copy(update={"profiles": {**settings.profiles, "wrong": wrong}})
    with anyio.fail_after(20):
        async with connect(mode="legacy", server_settings=both) as client:
            profiles = await transcript.ok(client, "profiles_list")
            start = await transcript.refused(client, "runs_start", {"target_id": "quick-demo", "profile": "wrong"})
            get = await transcript.refused(client, "runs_get", {"run_id": "run_x", "profile": "wrong"})
            ok = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
    assert [p["name"] for p in profiles["profiles"]] == ["sandbox", "wrong"]
    assert "HTTP 401" in start
    assert "HTTP 401" in get
    assert ok["status"] == "completed"
    # the transcript fixture checks, at teardown, that neither key appears anywhere the client saw


async def test_a_live_answer_that_does_not_fit_the_gate_keeps_the_run_waiting_and_says_why(
    connect: Any, human_factory: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    """2025 era: the live question was asked once and its answer did not fit; the run waits for gates_respond."""
    human = human_factory(("accept", {"decision": "maybe"}))
    with anyio.fail_after(20):
        async with connect(mode="legacy", human=human) as client:
            resolves = sandbox.stats()["resolves"]
            waiting = await transcript.ok(client, "runs_start", {"target_id": "approval-demo"})
            still_open = await transcript.ok(client, "gates_list")
            gate_id = waiting["waiting_for"]["gate_id"]
            done = await transcript.ok(
                client, "gates_respond", {"gate_id": gate_id, "decision": "accept", "values": {"decision": "accept"}}
            )
    transcript.record(*human.questions)
    assert len(human.questions) == 1
    assert waiting["status"] == "waiting"
    assert "must be one of ['accept', 'reject', 'refine']" in waiting["note"]
    assert "gates_respond" in waiting["note"]
    assert [g["gate_id"] for g in still_open["gates"]] == [gate_id]
    assert done["status"] == "completed"
    assert sandbox.stats()["resolves"] == resolves + 1


async def test_a_2026_answer_that_does_not_fit_the_gate_is_asked_again_and_the_run_completes(
    connect: Any, human_factory: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    """2026 era: the retry carrying the misfit answer gets the same question again (a new input_required, saying
    why), which the client puts to the person; their second answer completes the run, resumed once."""
    human = human_factory(("accept", {"decision": "maybe"}), ("accept", {"decision": "accept"}))
    with anyio.fail_after(20):
        async with connect(mode="auto", human=human) as client:
            resolves = sandbox.stats()["resolves"]
            done = await transcript.ok(client, "runs_start", {"target_id": "approval-demo"})
    transcript.record(*human.questions)
    first, again = human.questions
    assert again.message.startswith("The answer did not fit the question: decision must be one of"), again.message
    assert again.message.endswith(first.message)
    assert again.requested_schema == first.requested_schema  # type: ignore[union-attr]
    assert done["status"] == "completed"
    assert done["decision"] == "accepted"
    assert sandbox.stats()["resolves"] == resolves + 1


async def test_a_gate_answered_elsewhere_while_the_human_decides_is_a_clear_error(
    connect: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    """The human's answer reaches a gate the backend already closed: the refusal is a curated tool error."""

    async def answered_elsewhere_first(_ctx: Any, params: Any) -> Any:
        from mcp_types import ElicitResult

        transcript.record(params)
        run_id = params.message.split("(run ")[1].split(",")[0]
        await anyio.to_thread.run_sync(
            sandbox.call, sandbox.engine.answer_gate, run_id, "approve", {"action": "accept"}
        )
        return ElicitResult(action="accept", content={"decision": "accept"})

    with anyio.fail_after(20):
        async with connect(mode="legacy", human=answered_elsewhere_first) as client:
            text = await transcript.refused(client, "runs_start", {"target_id": "approval-demo"})
            ok = await transcript.ok(client, "runs_list")
    assert "already answered" in text or "no longer open" in text, text
    assert text != "Error executing tool runs_start"
    assert ok["runs"][0]["target_id"] == "approval-demo"
