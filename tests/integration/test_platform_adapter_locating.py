"""A slow synchronous agent call, known by runbridge's own `call_…` id, found by another adapter (another runbridge
process, or one restarted) from the call's locator alone: its workspace run while it runs and once it ended, two
calls of one agent at once told apart by their input, and a call that never ran said as such."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest
from tests.integration.platform_harness import adapter, platform

from runbridge.backends.platform.adapter import PlatformBackend
from runbridge.backends.platform.locating import CallNotFound
from runbridge.core.agents import AgentCallRequest
from runbridge.core.models import EventKind, RunStatus
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio
_ = platform  # the fixture


def _call(agent: str, text: str) -> AgentCallRequest:
    return AgentCallRequest(agent_id=agent, input={"text": text}, stream=False)


async def test_another_process_finds_a_slow_call_by_its_locator_while_it_runs_and_once_it_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with SandboxServer("platform", speed=0.1) as slow:  # a synchronous call takes 4 s
        async with adapter(slow, monkeypatch) as caller, adapter(slow, monkeypatch) as other:
            run = await caller.call_agent(_call("acme/summarizer", "found elsewhere"))
            assert run.run_id.startswith("call_")
            assert set(run.locator or {}) == {"agent", "sent_at", "input_digest"}, "no workspace run named yet"
            other.locate_run(run.run_id, run.locator or {})
            running = await other.get_run(run.run_id)
            with anyio.fail_after(20):
                events = [e async for e in PlatformBackend.watch(other, run.run_id)]
            ended = await other.get_run(run.run_id)
            with anyio.fail_after(20):
                [e async for e in caller.watch(run.run_id)]
            named = await caller.get_run(run.run_id)
    assert running.run_id == run.run_id
    assert running.status is RunStatus.RUNNING, "the workspace run's own status, read while the call runs"
    workspace_run = running.details["workspace_run_id"]
    assert [e.kind for e in events] == [EventKind.RUN_STARTED, EventKind.RUN_COMPLETED]
    assert {e.run_id for e in events} == {run.run_id}
    assert ended.status is RunStatus.COMPLETED
    assert ended.outputs == {"summary": "found elsewhere", "bullets": ["found", "elsewhere"]}
    assert ended.locator == {"agent": "acme/summarizer@v2", "workspace_run": workspace_run}
    assert named.locator is not None
    assert named.locator["workspace_run"] == workspace_run, "the caller names it too"


async def test_two_calls_of_one_agent_at_once_are_told_apart_by_their_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with SandboxServer("platform", speed=0.1) as slow:
        async with adapter(slow, monkeypatch) as caller, adapter(slow, monkeypatch) as other:
            first = await caller.call_agent(_call("acme/summarizer", "the first"))
            second = await caller.call_agent(_call("acme/summarizer", "the second"))
            for run in (first, second):
                other.locate_run(run.run_id, run.locator or {})
            with anyio.fail_after(20):
                for run in (first, second):
                    [e async for e in PlatformBackend.watch(other, run.run_id)]
            a, b = await other.get_run(first.run_id), await other.get_run(second.run_id)
    assert a.outputs == {"summary": "the first", "bullets": ["the", "first"]}
    assert b.outputs == {"summary": "the second", "bullets": ["the", "second"]}
    assert a.details["workspace_run_id"] != b.details["workspace_run_id"]


async def test_a_call_that_never_ran_is_said_so_and_an_unknown_one_is_no_such_run(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()  # no run of the agent started then
    async with adapter(platform, monkeypatch) as other:
        other.locate_run("call_00000000000000aa", {"agent": "acme/summarizer@v2", "sent_at": sent})
        with pytest.raises(CallNotFound) as never:
            await other.get_run("call_00000000000000aa")
        with pytest.raises(CallNotFound) as unknown:
            await other.get_run("call_00000000000000bb")
    assert "nothing ran" in never.value.message
    assert "acme/summarizer@v2" in never.value.message
    assert "no record of it" in unknown.value.message


async def test_a_call_sent_a_moment_ago_that_has_not_started_yet_is_not_said_to_have_never_run(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = (datetime.now(UTC) - timedelta(seconds=35)).isoformat()  # after every seeded run, within the window
    async with adapter(platform, monkeypatch) as other:
        other.locate_run("call_00000000000000dd", {"agent": "acme/summarizer@v2", "sent_at": sent})
        with pytest.raises(CallNotFound) as pending:
            await other.get_run("call_00000000000000dd")
    assert "may not have received it yet" in pending.value.message
    assert "nothing ran" not in pending.value.message
