"""Gates under pressure, on OpenWOP and Synapse orchestrations: answered twice (one after the other, at the same
moment on one connection, at the same moment from two runbridge processes sharing a state DB, and as two 2026-era
retries of one continuation), answered after the run was cancelled, answered with values outside the gate's
schema. Every extra answer is refused with a message that says why (and what is allowed), and the sandbox's own
request log shows the run resumed exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, ElicitResult, InputRequiredResult
from surface_harness import assert_curated, profile_for, resumes, settings_for, structured, text_of
from tests.mcp_people import Human

from runbridge.core import Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

KEY = "sk-gates-pressure-4e7d21c9b0"
KEY_ENV = "RB_GATES_PRESSURE_KEY"


class Case:
    """One family's gated target and answers: valid ones, and ones outside its schema with what must be said."""

    def __init__(self, family: str, target: str, valid: dict[str, Any], bad: list[tuple[Any, list[str]]]) -> None:
        self.family, self.target, self.valid, self.bad = family, target, valid, bad


CASES = {
    "openwop": Case(
        "openwop",
        "approval-demo",
        {"decision": "accept", "feedback": "ship it"},
        [
            ({"decision": "maybe"}, ["decision must be one of ['accept', 'reject', 'refine']", "'maybe'"]),
            ({"decision": True}, ["decision must be one of ['accept', 'reject', 'refine']"]),
            ({"decision": "accept", "feedback": 5}, ["feedback must be text"]),
            ({"decision": ""}, ["decision is required", "one of ['accept', 'reject', 'refine']"]),
            ({"decision": "accept", "mood": "ok"}, ["Unknown field(s) ['mood']", "['decision', 'feedback']"]),
            (["accept"], ["values", "JSON object"]),
        ],
    ),
    "orchestrations": Case(
        "orchestrations",
        "orch-research-report",
        {"decision": "approve", "notes": "ship it"},
        [
            ({"decision": "maybe"}, ["decision must be one of ['approve', 'reject']", "'maybe'"]),
            ({"decision": 5}, ["decision must be one of ['approve', 'reject']"]),
            ({"decision": "approve", "notes": ["x"]}, ["notes must be text"]),
            ({"notes": "fine"}, ["decision is required", "one of ['approve', 'reject']"]),
        ],
    ),
}
FAMILIES = sorted(CASES)


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, SandboxServer]]:
    with (
        SandboxServer("openwop", api_key=KEY, keepalive_seconds=0.2) as wop,
        SandboxServer("orchestrations", api_key=KEY, keepalive_seconds=0.2) as syn,
    ):
        yield {"openwop": wop, "orchestrations": syn}


@pytest.fixture(params=FAMILIES)
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


@pytest.fixture
def sandbox(case: Case, sandboxes: dict[str, SandboxServer]) -> SandboxServer:
    return sandboxes[case.family]


@pytest.fixture
def settings(case: Case, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, KEY)
    return settings_for(profile_for(case.family, sandbox, "p", KEY_ENV))


@asynccontextmanager
async def connect(settings: Settings, mode: str = "legacy", human: Any = None) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode, elicitation_callback=human) as client:
        yield client


async def _waiting(client: Client, case: Case) -> dict[str, Any]:
    """Start the gated run with a client that cannot be asked: the run waits, the gate is in the result."""
    report = structured(await client.call_tool("runs_start", {"target_id": case.target}))
    assert report["status"] == "waiting", report
    return report


async def _ask(client: Client, case: Case) -> InputRequiredResult:
    """A 2026-era call that stops at the gate: the question and the sealed continuation."""
    result = await client.session.call_tool("runs_start", {"target_id": case.target}, allow_input_required=True)
    assert isinstance(result, InputRequiredResult), result
    assert result.request_state
    return result


async def _retry(client: Client, case: Case, state: str, content: dict[str, Any] | None) -> CallToolResult:
    """The client's retry of the same call, carrying the person's answer and the continuation."""
    answer = ElicitResult(action="accept", content=content)
    result = await client.session.call_tool(
        "runs_start", {"target_id": case.target}, input_responses={"gate": answer}, request_state=state
    )
    assert isinstance(result, CallToolResult), result
    return result


def _refusal(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    text = text_of(result)
    assert_curated(text, KEY)
    return text


ALREADY = ("already answered", "being answered right now")


async def test_two_answers_at_the_same_moment_resume_the_run_once(
    case: Case, sandbox: SandboxServer, settings: Settings
) -> None:
    with anyio.fail_after(30):
        async with connect(settings) as client:
            gate = (await _waiting(client, case))["waiting_for"]["gate_id"]
            before = resumes(sandbox)
            results: list[CallToolResult] = []

            async def answer() -> None:
                args = {"gate_id": gate, "decision": "accept", "values": case.valid}
                results.append(await client.call_tool("gates_respond", args))

            async with anyio.create_task_group() as tg:
                tg.start_soon(answer)
                tg.start_soon(answer)
            again = _refusal(await client.call_tool("gates_respond", {"gate_id": gate, "decision": "accept"}))
    won = [r for r in results if not r.is_error]
    lost = [_refusal(r) for r in results if r.is_error]
    assert len(won) == 1, [text_of(r) for r in results]
    assert structured(won[0])["status"] == "completed"
    assert len(lost) == 1
    assert any(reason in lost[0] for reason in ALREADY), lost[0]
    assert "already answered" in again
    assert resumes(sandbox) == before + 1, "the run was resumed more than once (or not at all)"


async def test_two_runbridge_processes_sharing_a_state_db_answer_a_gate_once(
    case: Case, sandbox: SandboxServer, settings: Settings, tmp_path: Path
) -> None:
    shared = settings.model_copy(update={"state_path": str(tmp_path / "state.db")})
    with anyio.fail_after(30):
        async with connect(shared) as first, connect(shared) as second:
            gate = (await _waiting(first, case))["waiting_for"]["gate_id"]
            before = resumes(sandbox)
            results: list[CallToolResult] = []

            async def answer(client: Client) -> None:
                args = {"gate_id": gate, "decision": "accept", "values": case.valid}
                results.append(await client.call_tool("gates_respond", args))

            async with anyio.create_task_group() as tg:
                tg.start_soon(answer, first)
                tg.start_soon(answer, second)
    lost = [_refusal(r) for r in results if r.is_error]
    assert len(lost) == 1, [text_of(r) for r in results]
    assert any(reason in lost[0] for reason in ALREADY), lost[0]
    assert resumes(sandbox) == before + 1


async def test_two_retries_of_one_continuation_resume_the_run_once_and_start_no_second_run(
    case: Case, sandbox: SandboxServer, settings: Settings
) -> None:
    with anyio.fail_after(30):
        async with connect(settings, mode="auto", human=Human()) as client:
            asked = await _ask(client, case)
            started, before = sandbox.stats()["runs_created"], resumes(sandbox)
            results: list[CallToolResult] = []

            async def retry() -> None:
                assert asked.request_state is not None
                results.append(await _retry(client, case, asked.request_state, case.valid))

            async with anyio.create_task_group() as tg:
                tg.start_soon(retry)
                tg.start_soon(retry)
    won = [structured(r) for r in results if not r.is_error]
    lost = [_refusal(r) for r in results if r.is_error]
    assert [w["status"] for w in won] == ["completed"], [text_of(r) for r in results]
    assert len(lost) == 1
    assert any(reason in lost[0] for reason in ALREADY), lost[0]
    assert resumes(sandbox) == before + 1
    assert sandbox.stats()["runs_created"] == started, "a retry started a second run"


async def test_a_continuation_replayed_after_the_gate_was_answered_is_refused(
    case: Case, sandbox: SandboxServer, settings: Settings
) -> None:
    with anyio.fail_after(30):
        async with connect(settings, mode="auto", human=Human()) as client:
            asked = await _ask(client, case)
            assert asked.request_state is not None
            before = resumes(sandbox)
            done = structured(await _retry(client, case, asked.request_state, case.valid))
            replayed = _refusal(await _retry(client, case, asked.request_state, case.valid))
    assert done["status"] == "completed"
    assert "already answered" in replayed
    assert resumes(sandbox) == before + 1


async def test_an_answer_after_the_run_was_cancelled_is_refused_in_both_eras_and_nothing_resumes(
    case: Case, sandbox: SandboxServer, settings: Settings
) -> None:
    with anyio.fail_after(30):
        async with connect(settings) as legacy, connect(settings, mode="auto", human=Human()) as modern:
            gate = (await _waiting(legacy, case))["waiting_for"]["gate_id"]
            run_id = gate.split(":")[0]
            asked = await _ask(modern, case)
            assert asked.request_state is not None
            modern_run = structured(await modern.call_tool("runs_list", {}))["runs"][0]["run_id"]
            before = resumes(sandbox)
            structured(await legacy.call_tool("runs_cancel", {"run_id": run_id}))
            structured(await modern.call_tool("runs_cancel", {"run_id": modern_run}))
            late = _refusal(
                await legacy.call_tool("gates_respond", {"gate_id": gate, "decision": "accept", "values": case.valid})
            )
            late_retry = _refusal(await _retry(modern, case, asked.request_state, case.valid))
            status = structured(await legacy.call_tool("runs_get", {"run_id": run_id}))["run"]["status"]
    for text in (late, late_retry):
        assert "closed" in text, text
        assert "moved on or ended" in text, text
    assert resumes(sandbox) == before, "a cancelled run was resumed"
    assert status == "cancelled"


async def test_an_answer_after_the_backend_cancelled_the_run_is_refused_and_the_run_stays_cancelled(
    sandboxes: dict[str, SandboxServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled elsewhere (the OpenWOP host's own UI): runbridge learns it from the refused resume, and says so."""
    sandbox = sandboxes["openwop"]
    monkeypatch.setenv(KEY_ENV, KEY)
    settings = settings_for(profile_for("openwop", sandbox, "p", KEY_ENV))
    case = CASES["openwop"]
    with anyio.fail_after(30):
        async with connect(settings) as client:
            gate = (await _waiting(client, case))["waiting_for"]["gate_id"]
            run_id = gate.split(":")[0]
            await anyio.to_thread.run_sync(sandbox.call, sandbox.engine.cancel, run_id)
            before = resumes(sandbox)
            args = {"gate_id": gate, "decision": "accept", "values": case.valid}
            late = _refusal(await client.call_tool("gates_respond", args))
            again = _refusal(await client.call_tool("gates_respond", args))
            status = structured(await client.call_tool("runs_get", {"run_id": run_id}))["run"]["status"]
    assert "no longer open" in late or "cancelled" in late, late
    assert "closed" in again, again
    assert resumes(sandbox) == before + 1, "the second answer must not reach the backend at all"
    assert status == "cancelled"


async def test_values_outside_the_gate_schema_are_refused_with_what_is_allowed_and_the_gate_stays_open(
    case: Case, sandbox: SandboxServer, settings: Settings
) -> None:
    with anyio.fail_after(30):
        async with connect(settings) as client:
            gate = (await _waiting(client, case))["waiting_for"]["gate_id"]
            before = resumes(sandbox)
            refusals = []
            for values, _ in case.bad:
                args = {"gate_id": gate, "decision": "accept", "values": values}
                refusals.append(_refusal(await client.call_tool("gates_respond", args)))
            still_open = structured(await client.call_tool("gates_list", {}))["gates"]
            assert resumes(sandbox) == before, "a refused answer reached the backend"
            args = {"gate_id": gate, "decision": "accept", "values": case.valid}
            done = structured(await client.call_tool("gates_respond", args))
    for text, (values, expected) in zip(refusals, case.bad, strict=True):
        for words in expected:
            assert words in text, f"{values!r}: {text}"
    assert [g["gate_id"] for g in still_open] == [gate]
    assert done["status"] == "completed"
    assert resumes(sandbox) == before + 1


async def test_a_2026_answer_outside_the_schema_is_asked_again_and_the_continuation_stays_usable_once(
    case: Case, sandbox: SandboxServer, settings: Settings
) -> None:
    """The protocol's way: the misfit retry gets a new input_required for the same gate saying what did not fit,
    and nothing reaches the backend; the new continuation, and the first one, still take a valid answer once."""
    bad, expected = case.bad[0]
    with anyio.fail_after(30):
        async with connect(settings, mode="auto", human=Human()) as client:
            asked = await _ask(client, case)
            assert asked.request_state is not None
            before = resumes(sandbox)
            misfit = await client.session.call_tool(
                "runs_start",
                {"target_id": case.target},
                input_responses={"gate": ElicitResult(action="accept", content=bad)},
                request_state=asked.request_state,
                allow_input_required=True,
            )
            assert resumes(sandbox) == before
            done = structured(await _retry(client, case, asked.request_state, case.valid))
    assert isinstance(misfit, InputRequiredResult), misfit
    again = misfit.input_requests["gate"].params
    first = asked.input_requests["gate"].params
    assert again.message.startswith("The answer did not fit the question:"), again.message
    assert all(phrase in again.message for phrase in expected), again.message
    assert again.message.endswith(first.message)
    assert again.requested_schema == first.requested_schema  # type: ignore[union-attr]
    assert done["status"] == "completed"
    assert resumes(sandbox) == before + 1
