"""The platform adapter against the platform sandbox over loopback: agent calls (synchronous and streamed), the
workspace's runs, the precondition errors, the quota headers and rate limits."""

from __future__ import annotations

import time

import anyio
import pytest
from tests.integration.platform_harness import LLM_ENV, adapter, events_of, platform, requests_to, steer

from runbridge.backends.platform.adapter import PlatformBackend
from runbridge.core import budget
from runbridge.core.agents import AgentCallRequest
from runbridge.core.errors import BackendError, BadRequestError, ConfigError, InputError, RateLimitedError
from runbridge.core.models import EventKind, RunStatus
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio
_ = platform
CALL = "POST /{org}/{agent}/{version}/{endpoint}"


def _call(agent: str, **kw: object) -> AgentCallRequest:
    return AgentCallRequest(agent_id=agent, **kw)  # type: ignore[arg-type]


async def test_a_streamed_call_is_a_run_with_turns_tools_and_its_result(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(platform, monkeypatch) as backend:
        run = await backend.call_agent(_call("acme/repo-auditor", input={"repo": "github.com/acme/api"}))
        events = await events_of(backend, run.run_id)
        again = await events_of(backend, run.run_id, cursor=events[4].seq)  # from a cursor: the rest, once
        snapshot = await backend.get_run(run.run_id)
    async with adapter(platform, monkeypatch) as other:  # another process: the workspace run, from its logs
        logged = await other.get_run(run.run_id)
        replayed = await events_of(other, run.run_id)
    assert run.details["workspace_run_id"] == run.run_id, "X-Run-Id is the run's id"
    assert run.details["streamed"] is True
    assert run.details["endpoint"] == "run"
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.RUN_STARTED
    assert kinds[-1] is EventKind.RUN_COMPLETED
    assert kinds.count(EventKind.STEP_STARTED) == 3
    assert kinds.count(EventKind.TOOL_CALLED) == 3
    steps = [e.step for e in events if e.kind is EventKind.STEP_STARTED]
    assert [(s.index, s.total) for s in steps if s] == [(1, 3), (2, 3), (3, 3)]
    assert "calling read_file: README.md" in [e.text for e in events]
    assert [e.seq for e in events] == [str(i) for i in range(1, len(events) + 1)]
    assert [e.seq for e in again] == [e.seq for e in events[5:]]
    assert events[-1].data["outputs"]["summary"] == "Audited github.com/acme/api"
    assert events[-1].usage is not None
    assert events[-1].usage.total_tokens > 0
    assert snapshot.status is RunStatus.COMPLETED
    assert snapshot.outputs == events[-1].data["outputs"]
    assert logged.status is RunStatus.COMPLETED
    assert logged.outputs == snapshot.outputs
    assert [e.kind for e in replayed] == kinds, "the logs keep the loop's progress"


async def test_a_synchronous_call_answers_with_its_output_warnings_and_usage(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(platform, monkeypatch) as backend:
        run = await backend.call_agent(_call("acme/invoice-scanner", message="Invoice 42 from ACME, 1234.50"))
        events = await events_of(backend, run.run_id)
        inline = None
    async with adapter(platform, monkeypatch, background=False) as backend:  # no task group: read to its end first
        inline = await backend.call_agent(_call("acme/summarizer@v1", input={"text": "one two three"}))
        inline_events = await events_of(backend, inline.run_id)
    end = events[-1]
    assert [e.kind for e in events] == [EventKind.RUN_STARTED, EventKind.RUN_COMPLETED]
    assert end.data["outputs"] == {"vendor": "ACME", "amount": 1234.5}
    assert "LOW_CONFIDENCE (amount): Amount extracted with low confidence" in (end.note or "")
    assert run.details["streamed"] is False
    assert run.details["endpoint"] == "analyze"
    assert inline.status is RunStatus.COMPLETED
    assert inline_events[-1].data["outputs"] == {"summary": "one two three"}


async def test_a_failing_loop_ends_the_run_failed_with_the_platforms_words(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(platform, monkeypatch) as backend:
        run = await backend.call_agent(_call("acme/repo-auditor", input={"repo": "r", "fail": True}))
        events = await events_of(backend, run.run_id)
        with pytest.raises(BackendError, match=r"asked to fail.*HTTP 500, SANDBOX_ERROR") as refused:
            await backend.call_agent(_call("acme/flaky", input={"text": "x"}))
    assert events[-1].kind is EventKind.RUN_FAILED
    assert events[-1].data["error"]["code"] == "SANDBOX_ERROR"
    assert "The loop gave up" in events[-1].data["error"]["message"]
    assert refused.value.retryable is False
    assert requests_to(platform, CALL) == 2, "is_retryable false: never tried again"


async def test_each_precondition_says_what_the_person_must_do(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    steer(platform, balance_cents=2)
    async with adapter(platform, monkeypatch) as backend:
        cases = {
            "INSUFFICIENT_CREDITS": (_call("acme/invoice-scanner", input={"text": "x"}), "add credits"),
            "LLM_KEY_REQUIRED": (_call("acme/byok-writer", input={"topic": "x"}), "options.llm_credentials"),
            "MISSING_SECRETS": (
                _call("acme/slack-notifier", input={"message": "x"}),
                "secrets that are not set (SLACK_TOKEN)",
            ),
        }
        for code, (request, advice) in cases.items():
            with pytest.raises(BackendError) as caught:
                await backend.call_agent(request)
            assert caught.value.code == code
            assert advice in str(caught.value), str(caught.value)
            assert caught.value.retryable is False
        with pytest.raises(InputError, match="llm_credentials never travel in a tool call"):
            await backend.call_agent(
                _call("acme/byok-writer", input={"topic": "x", "llm_credentials": {"api_key": "k"}})
            )
        with pytest.raises(InputError, match="Unknown call option"):
            await backend.call_agent(_call("acme/summarizer", input={"text": "x"}, options={"color": 1}))
    assert requests_to(platform, CALL) == 3, "the refused tool calls sent nothing"


async def test_the_llm_key_comes_from_the_variable_the_profile_names(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = {"provider": "openai", "api_key_env": LLM_ENV, "model": "gpt-4o-mini"}
    monkeypatch.delenv(LLM_ENV, raising=False)
    async with adapter(platform, monkeypatch, llm_credentials=llm) as backend:
        with pytest.raises(ConfigError, match=f"\\${LLM_ENV}, which is not set"):
            await backend.call_agent(_call("acme/byok-writer", input={"topic": "tides"}))
        monkeypatch.setenv(LLM_ENV, "sk-test-llm-0001")
        run = await backend.call_agent(_call("acme/byok-writer", input={"topic": "tides"}))
        events = await events_of(backend, run.run_id)
        monkeypatch.setenv(LLM_ENV, "rate-limited-key-0002")
        with pytest.raises(RateLimitedError) as limited:
            await backend.call_agent(_call("acme/byok-writer", input={"topic": "tides"}))
    assert events[-1].data["outputs"] == {"draft": "A draft about tides."}
    assert limited.value.code == "LLM_RATE_LIMITED"
    assert "not orchagent.io" in str(limited.value)
    assert "rate-limited-key" not in str(limited.value)


async def test_a_429_waits_for_the_reset_when_it_fits_and_says_when_otherwise(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(platform, monkeypatch) as backend:
        steer(platform, reset_in=1.2, rate_limit={"count": 1, "path_prefix": "/public/agents"})
        started = time.monotonic()
        page = await backend.list_agents()  # a read: waits for X-RateLimit-Reset, then succeeds
        waited = time.monotonic() - started
        steer(platform, reset_in=1.0, rate_limit={"count": 1, "path_prefix": "/acme/"})
        run = await backend.call_agent(_call("acme/summarizer", input={"text": "x"}))  # a call: the same, once
        events = await events_of(backend, run.run_id)
        steer(platform, reset_in=3600, rate_limit={"count": 1, "path_prefix": "/public/agents"})
        with budget.call_budget(10), pytest.raises(RateLimitedError) as late:
            await backend.list_agents()
        steer(platform, rate_limit={"count": 1, "path_prefix": "/acme/", "suggested_wait": 0.5})
        started = time.monotonic()
        run = await backend.call_agent(_call("acme/summarizer", input={"text": "y"}))
        hinted = time.monotonic() - started
        steer(platform, rate_limit={"count": 3, "path_prefix": "/agents", "retryable": False})
        before = requests_to(platform, "GET /agents")
        with pytest.raises(RateLimitedError, match="HTTP 429"):
            await backend.list_agents(scope="workspace")
        after = requests_to(platform, "GET /agents")
    assert page.total == 6
    assert 0.5 < waited < 5
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert "The orchagent.io quota resets at" in str(late.value)
    assert "UTC" in str(late.value)
    assert requests_to(platform, "GET /public/agents") <= 3, "no early retries into a limit an hour away"
    assert 0.4 < hinted < 5, "suggested_wait_time is honoured"
    assert after - before == 1, "is_retryable false: never retried"


async def test_the_quota_is_read_on_every_answer_and_shown_when_it_runs_low(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(platform, monkeypatch) as backend:
        await backend.list_agents()
        full = (backend.wire.quota.limit, backend.wire.quota.remaining)
        steer(platform, remaining=5)
        run = await backend.call_agent(_call("acme/summarizer", input={"text": "x"}))
        events = await events_of(backend, run.run_id)
        snapshot = await backend.get_run(run.run_id)
        steer(platform, remaining=0, reset_in=7200)
        with pytest.raises(RateLimitedError, match="Try again after") as out:
            await backend.call_agent(_call("acme/summarizer", input={"text": "x"}))
    assert full == (1000, 1000)
    assert (events[-1].note or "").startswith("4 of 1000 calls left in this period on orchagent.io")
    assert snapshot.details["note"] == events[-1].note
    assert out.value.retryable is True
    assert out.value.retry_after is not None
    assert out.value.retry_after > 3600


async def test_workspace_runs_list_page_and_read(platform: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    async with adapter(platform, monkeypatch) as backend:
        first = await backend.list_runs(limit=5)
        second = await backend.list_runs(limit=5, cursor=first.next_cursor)
        only = await backend.list_runs(limit=50, target_id="acme/invoice-scanner")
        old = await backend.get_run(first.items[3].run_id)
        history = await events_of(backend, old.run_id)
        with pytest.raises(Exception, match="No run 'nope' in workspace ws_acme_personal"):
            await backend.get_run("nope")
        with pytest.raises(Exception, match="no way to cancel"):
            await backend.cancel_run(old.run_id)
    assert len(first.items) == 5
    assert first.next_cursor == "5"
    assert first.total
    assert first.total > 100
    assert not {r.run_id for r in first.items} & {r.run_id for r in second.items}
    assert only.items
    assert all(r.target_id == "invoice-scanner@v1" for r in only.items)
    assert old.status.terminal
    assert history[-1].terminal
    assert history[-1].from_status


async def test_a_run_named_by_another_process_is_followed_to_its_end(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(platform, monkeypatch) as caller, adapter(platform, monkeypatch) as watcher:
        run = await caller.call_agent(_call("joe/leak-finder", input={"repo": "r"}))
        with anyio.fail_after(20):
            seen = [e async for e in PlatformBackend.watch(watcher, run.run_id)]
    assert seen[-1].kind is EventKind.RUN_COMPLETED
    assert seen[-1].data["outputs"]["summary"] == "Audited r"


async def test_a_bad_body_is_the_platforms_invalid_input(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(platform, monkeypatch) as backend:
        with pytest.raises(BadRequestError, match=r"Missing required input: text.*INVALID_INPUT"):
            await backend.call_agent(_call("acme/summarizer", input={}))
        with pytest.raises(InputError, match=r"not an orchagent.io agent"):
            await backend.call_agent(_call("a/b/c/d"))


async def test_a_slow_synchronous_call_is_a_handle_first_and_names_its_workspace_run_once_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with SandboxServer("platform", speed=0.1) as slow:  # a synchronous call takes 4 s
        async with adapter(slow, monkeypatch) as backend:
            started = time.monotonic()
            run = await backend.call_agent(_call("acme/summarizer", input={"text": "slow one"}))
            returned = time.monotonic() - started
            assert run.status is RunStatus.QUEUED
            events = await events_of(backend, run.run_id)
            snapshot = await backend.get_run(run.run_id)
    assert run.run_id.startswith("call_")
    assert returned < 3.5, "the tool call gets its handle before the agent answers"
    assert [e.kind for e in events] == [EventKind.RUN_STARTED, EventKind.RUN_COMPLETED]
    assert events[-1].data["outputs"] == {"summary": "slow one", "bullets": ["slow", "one"]}
    assert snapshot.status is RunStatus.COMPLETED
    assert snapshot.details["workspace_run_id"] != run.run_id


async def test_a_stream_lost_before_its_result_is_settled_from_the_workspace_runs_logs(
    platform: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(platform, monkeypatch) as backend:
        run = await backend.call_agent(_call("acme/repo-auditor", input={"repo": "cut", "drop_before_result": True}))
        events = await events_of(backend, run.run_id)
        snapshot = await backend.get_run(run.run_id)
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert events[-1].data["outputs"]["summary"] == "Audited cut"
    assert EventKind.TOOL_CALLED in {e.kind for e in events}, "the progress read before the break is kept"
    assert snapshot.status is RunStatus.COMPLETED
