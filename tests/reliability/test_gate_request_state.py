"""The sealed 2026-era continuation (`requestState`) under attack and decay, on OpenWOP and Synapse orchestrations:
one byte flipped, minted by another server, bound to other arguments, expired, or carried without the answer.
Each is refused with a message that says what to do next; nothing reaches the backend; the gate stays open and is
then answered exactly once."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, ElicitResult, InputRequiredResult
from surface_harness import assert_curated, profile_for, resumes, settings_for, structured, text_of
from tests.mcp_people import Human

from runbridge.core import Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

KEY = "sk-request-state-0b8f3e62d1"
KEY_ENV = "RB_REQUEST_STATE_KEY"
TTL = 0.3  # seconds: the continuation of a gate question expires this long after it was handed out
TARGETS = {
    "openwop": ("approval-demo", {"decision": "accept"}),
    "orchestrations": ("orch-research-report", {"decision": "approve"}),
}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, SandboxServer]]:
    with (
        SandboxServer("openwop", api_key=KEY, keepalive_seconds=0.2) as wop,
        SandboxServer("orchestrations", api_key=KEY, keepalive_seconds=0.2) as syn,
    ):
        yield {"openwop": wop, "orchestrations": syn}


@pytest.fixture(params=sorted(TARGETS))
def family(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def sandbox(family: str, sandboxes: dict[str, SandboxServer]) -> SandboxServer:
    return sandboxes[family]


@pytest.fixture
def settings(family: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, KEY)
    return settings_for(profile_for(family, sandbox, "p", KEY_ENV))


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode="auto", elicitation_callback=Human()) as client:
        assert client.protocol_version == "2026-07-28"
        yield client


async def _ask(client: Client, target: str) -> str:
    result = await client.session.call_tool("runs_start", {"target_id": target}, allow_input_required=True)
    assert isinstance(result, InputRequiredResult), result
    assert result.request_state
    return result.request_state


async def _retry(
    client: Client, state: str, content: dict[str, Any] | None, *, args: dict[str, Any], answered: bool = True
) -> CallToolResult:
    responses = {"gate": ElicitResult(action="accept", content=content)} if answered else None
    result = await client.session.call_tool("runs_start", args, input_responses=responses, request_state=state)
    assert isinstance(result, CallToolResult), result
    return result


def _flip(state: str, at: int) -> str:
    """`state` with the base64url character at `at` replaced by another one: one byte of the sealed token changed."""
    alphabet = string.ascii_letters + string.digits + "-_"
    old = state[at]
    new = alphabet[(alphabet.index(old) + 1) % len(alphabet)]
    return state[:at] + new + state[at + 1 :]


def _assert_refused_state(caught: pytest.ExceptionInfo[MCPError]) -> None:
    error = caught.value
    assert error.code == INVALID_PARAMS
    assert "Invalid or expired requestState" in error.message
    assert "was not applied" in error.message
    assert "gates_respond" in error.message
    assert_curated(error.message, KEY)


async def _answer_once(client: Client, sandbox: SandboxServer, answer: dict[str, Any], before: int) -> None:
    """The gate is still open after the refusals, and the person's answer then resumes the run exactly once."""
    gates = structured(await client.call_tool("gates_list", {}))["gates"]
    assert len(gates) == 1, gates
    assert resumes(sandbox) == before, "a refused continuation reached the backend"
    args = {"gate_id": gates[0]["gate_id"], "decision": "accept", "values": answer}
    assert structured(await client.call_tool("gates_respond", args))["status"] == "completed"
    assert resumes(sandbox) == before + 1


async def test_a_continuation_with_one_byte_flipped_is_refused_and_the_gate_stays_answerable(
    family: str, sandbox: SandboxServer, settings: Settings
) -> None:
    target, answer = TARGETS[family]
    args = {"target_id": target}
    with anyio.fail_after(30):
        async with connect(settings) as client:
            state = await _ask(client, target)
            before, started = resumes(sandbox), sandbox.stats()["runs_created"]
            for at in (3, len(state) // 2, len(state) - 2):  # the key id, the ciphertext, the tag
                with pytest.raises(MCPError) as caught:
                    await _retry(client, _flip(state, at), answer, args=args)
                _assert_refused_state(caught)
            await _answer_once(client, sandbox, answer, before)
    assert sandbox.stats()["runs_created"] == started, "a refused retry started a second run"


async def test_a_continuation_minted_by_another_server_or_for_other_arguments_is_refused(
    family: str, sandbox: SandboxServer, settings: Settings
) -> None:
    """Another server (a restart without the persisted key, another replica) cannot read it; nor can another call."""
    target, answer = TARGETS[family]
    with anyio.fail_after(30):
        async with connect(settings) as client, connect(settings) as elsewhere:
            state = await _ask(client, target)
            before = resumes(sandbox)
            with pytest.raises(MCPError) as foreign:
                await _retry(elsewhere, state, answer, args={"target_id": target})
            with pytest.raises(MCPError) as rebound:
                await _retry(client, state, answer, args={"target_id": target, "message": "other arguments"})
            _assert_refused_state(foreign)
            _assert_refused_state(rebound)
            await _answer_once(client, sandbox, answer, before)


async def test_an_expired_continuation_is_refused_and_the_gate_stays_answerable(
    family: str, sandbox: SandboxServer, settings: Settings
) -> None:
    # Settings validation keeps a configured TTL at a minute or more; the test shortens it past that check.
    short = settings.model_copy(update={"gate_ttl_seconds": TTL})
    target, answer = TARGETS[family]
    with anyio.fail_after(30):
        async with connect(short) as client:
            state = await _ask(client, target)
            before = resumes(sandbox)
            await anyio.sleep(TTL + 0.2)  # the expiry is wall-clock time: nothing to wait on but the clock
            with pytest.raises(MCPError) as caught:
                await _retry(client, state, answer, args={"target_id": target})
            _assert_refused_state(caught)
            await _answer_once(client, sandbox, answer, before)


async def _reasked(
    client: Client, state: str, responses: dict[str, Any] | None, args: dict[str, Any], first: Any, why: str
) -> str:
    """A retry that did not answer is asked the same question again (the protocol's way, never a tool error or a
    waiting result), saying `why` first; the new continuation it carries."""
    again = await client.session.call_tool(
        "runs_start", args, input_responses=responses, request_state=state, allow_input_required=True
    )
    assert isinstance(again, InputRequiredResult), again
    assert again.request_state
    assert again.request_state != state
    asked = again.input_requests["gate"].params
    assert asked.message.startswith(why), asked.message
    assert asked.message.endswith(first.message)
    assert asked.requested_schema == first.requested_schema  # type: ignore[union-attr]
    assert_curated(asked.message, KEY)
    return again.request_state


async def test_a_retry_that_does_not_answer_is_asked_again_and_the_run_resumes_once(
    family: str, sandbox: SandboxServer, settings: Settings
) -> None:
    """Without the answer, or with one that does not fit the form, the retry gets a new input_required for the same
    gate: nothing reaches the backend, no second run starts, and the new continuation then resumes the run once."""
    target, answer = TARGETS[family]
    args = {"target_id": target}
    with anyio.fail_after(30):
        async with connect(settings) as client:
            before, started = resumes(sandbox), sandbox.stats()["runs_created"]
            asked = await client.session.call_tool("runs_start", args, allow_input_required=True)
            assert isinstance(asked, InputRequiredResult)
            assert asked.request_state
            first = asked.input_requests["gate"].params
            no_answer = "The retried call carried no answer to this question"
            missing = await _reasked(client, asked.request_state, None, args, first, no_answer)
            other = {"other": ElicitResult(action="accept", content={})}
            elsewhere = await _reasked(client, missing, other, args, first, no_answer)
            unfit = {"gate": ElicitResult(action="accept", content={"decision": "not-an-option"})}
            state = await _reasked(
                client, elsewhere, unfit, args, first, "The answer did not fit the question: decision"
            )
            assert resumes(sandbox) == before, "a retry that did not answer reached the backend"
            assert len(structured(await client.call_tool("gates_list", {}))["gates"]) == 1
            done = structured(await _retry(client, state, answer, args=args))
            replayed = await _retry(client, state, answer, args=args)
    assert done["status"] == "completed"
    assert replayed.is_error
    assert "already answered" in text_of(replayed)
    assert resumes(sandbox) == before + 1
    assert sandbox.stats()["runs_created"] == started + 1, "exactly one run, whatever the retries"
