"""The orq.ai adapter against the sandbox over loopback: agents CRUD with pagination, each execution endpoint, the
client-tool-call gate answered and the task continued on a new stream as the same run, a review gate decided in
"orq.ai's UI", the stream's end on `[DONE]`, a stream timeout followed by reading the task's state, usage and
billing, 429 and 5xx on reads retried and never on starts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from anyio.abc import TaskGroup

from runbridge.backends import create_backend
from runbridge.backends.orq import OrqBackend
from runbridge.backends.orq.spec import OrqOptions
from runbridge.core.agents import AgentCallRequest
from runbridge.core.config import Profile
from runbridge.core.errors import (
    GateError,
    InputError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UnsupportedError,
)
from runbridge.core.models import EventKind, Gate, GateAnswer, RunEvent, RunStatus, StartRequest
from runbridge.core.protocols import AgentCallAPI, AgentsAPI, capabilities_of
from runbridge.http import HttpClient, RetryPolicy, Secret
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orq import OrqState

pytestmark = pytest.mark.anyio

KEY = "orq-SENTINEL-key-0000000000000"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, budget=2.0)
DEADLINE = 15.0

Connect = Callable[..., OrqBackend]


@pytest.fixture(scope="module")
def orq() -> Iterator[SandboxServer]:
    with SandboxServer("orq", api_key=KEY, keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(orq: SandboxServer) -> None:
    orq.faults.clear()
    orq.context.stats.reset()


@pytest.fixture
async def tasks(anyio_backend: str) -> AsyncIterator[TaskGroup]:
    async with anyio.create_task_group() as group:
        yield group
        group.cancel_scope.cancel()


@pytest.fixture
async def connect(tasks: TaskGroup) -> AsyncIterator[Connect]:
    made: list[OrqBackend] = []

    def _connect(sb: SandboxServer, *, key: str = KEY, **options: Any) -> OrqBackend:
        profile = Profile(
            name="orq",
            family="orq",
            base_url=sb.base_url,
            read_timeout=5.0,
            connect_timeout=2.0,
            options=OrqOptions(**options),
        )
        backend = OrqBackend(profile, HttpClient(profile, secret=Secret(key), retry=FAST_RETRY), tasks=tasks)
        made.append(backend)
        return backend

    yield _connect
    for backend in made:
        await backend.aclose()


async def _events(
    backend: OrqBackend, run_id: str, stop: Callable[[RunEvent], bool], cursor: str | None = None
) -> list[RunEvent]:
    seen: list[RunEvent] = []
    with anyio.fail_after(DEADLINE):
        async for event in backend.watch(run_id, cursor=cursor):
            seen.append(event)
            if stop(event):
                return seen
    return seen


def _gate(events: list[RunEvent]) -> Gate:
    gate = events[-1].gate
    assert gate is not None, [e.raw_type for e in events]
    return gate


async def _review(sb: SandboxServer, task_id: str, review: str) -> None:
    async with httpx2.AsyncClient(base_url=sb.base_url) as client:
        response = await client.post(f"/_sandbox/orq/reviews/{task_id}", json={"review": review})
        assert response.status_code == 200, response.text


def _posts(sb: SandboxServer, route: str) -> int:
    return int(sb.stats()["requests"].get(route, 0))


async def test_the_factory_builds_it_with_the_agent_capabilities(orq: SandboxServer, tasks: TaskGroup) -> None:
    profile = Profile(name="orq", family="orq", base_url=orq.base_url)
    backend = create_backend(profile, tasks=tasks)
    assert isinstance(backend, OrqBackend)
    assert isinstance(backend, AgentsAPI)
    assert isinstance(backend, AgentCallAPI)
    assert {"targets", "runs", "gates"} <= capabilities_of(backend)
    await backend.aclose()


async def test_agents_crud_round_trip_with_pagination(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    key = f"crud-{uuid.uuid4().hex[:8]}"
    spec = {
        "key": key,
        "role": "Tester",
        "description": "made by the adapter",
        "instructions": "Be brief.",
        "path": "Default/agents",
        "model": "openai/gpt-4o-mini",
        "settings": {"max_iterations": 3},
    }
    made = await backend.create_agent(spec)
    assert made.id == key
    assert made.version == "v1.0.0"
    pages, cursor = [], None
    while True:
        page = await backend.list_agents(cursor=cursor, limit=3, scope="workspace")
        pages.append([a.id for a in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    listed = [k for p in pages for k in p]
    assert listed[0] == key  # newest first
    assert len(listed) == len(set(listed))
    assert {"echo-agent", "weather-agent", "payments-agent"} <= set(listed)
    assert all(len(p) <= 3 for p in pages)
    assert len(pages) >= 3
    changed = await backend.update_agent(
        key, {"description": "changed", "version_increment": "minor", "version_description": "shorter answers"}
    )
    assert changed.description == "changed"
    assert changed.version == "v1.1.0"
    assert changed.details["version_description"] == "shorter answers"
    assert (await backend.get_agent(key)).details["version_description"] == "shorter answers"
    assert (await backend.get_agent(key)).description == "changed"
    preview = await backend.delete_preview(key)
    assert preview
    assert key in preview
    await backend.delete_agent(key)
    with pytest.raises(NotFoundError, match=key):
        await backend.get_agent(key)
    with pytest.raises(UnsupportedError):
        await backend.list_agents(search="x")
    with pytest.raises(InputError, match="missing"):
        await backend.create_agent({"key": "half"})


async def test_a2a_agent_registered_and_its_card_refreshed(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    key = f"ext-{uuid.uuid4().hex[:8]}"
    agent = await backend.create_agent(
        {"key": key, "display_name": "Remote", "path": "Default/agents", "agent_url": "https://remote.example/a2a"}
    )
    assert agent.id == key
    assert agent.details["type"] == "a2a"
    fresh = await backend.refresh_agent_card(key)
    assert fresh.details["card_refreshed_at"]
    with pytest.raises(NotFoundError):
        await backend.refresh_agent_card("nobody-here")


async def test_an_external_agent_is_listed_read_refreshed_and_deleted_through_the_agent_calls(
    orq: SandboxServer, connect: Connect
) -> None:
    backend = connect(orq)
    key = f"ext-{uuid.uuid4().hex[:8]}"
    await backend.create_agent(
        {"key": key, "display_name": "Remote", "path": "Default/agents", "agent_url": "https://remote.example/a2a"}
    )
    everything = await backend.list_agents(limit=200)
    own = await backend.list_agents(limit=200, scope="workspace")
    assert [a.details["type"] for a in everything.items if a.id == key] == ["a2a"]
    assert key not in {a.id for a in own.items}  # orq.ai's type=internal filter
    assert {a.id for a in own.items} == {a.id for a in everything.items if a.details.get("type") != "a2a"}
    got = await backend.get_agent(key)
    assert (got.details["type"], got.details["agent_url"]) == ("a2a", "https://remote.example/a2a")
    before = got.details["card_refreshed_at"]
    await anyio.sleep(0.01)
    refreshed = await backend.update_agent(key, {"refresh_card": True})
    assert refreshed.details["card_refreshed_at"] > before
    with pytest.raises(InputError, match="refresh_card"):
        await backend.update_agent(key, {"refresh_card": True, "description": "x"})
    assert key in (await backend.delete_preview(key) or "")
    await backend.delete_agent(key)
    with pytest.raises(NotFoundError, match=key):
        await backend.get_agent(key)
    with pytest.raises(NotFoundError, match=key):
        await backend.delete_agent(key)


async def test_a_streamed_task_ends_on_done_with_usage_and_billing(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    run = await backend.start_run(StartRequest(target_id="echo-agent", message="hello there"))
    assert run.locator == {"agent_key": "echo-agent"}
    events = await _events(backend, run.run_id, lambda e: e.terminal)
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.RUN_STARTED
    assert kinds[-1] is EventKind.RUN_COMPLETED
    assert EventKind.STEP_COMPLETED in kinds  # the thought, as an iteration
    end = events[-1]
    assert end.data["outputs"]["text"] == "You said: hello there"
    assert end.usage is not None
    assert end.usage.total_tokens == 150
    assert end.usage.cost_usd == pytest.approx(0.0006)
    with anyio.fail_after(DEADLINE):
        while (await backend.get_run(run.run_id)).details["stream"] != "closed":
            await anyio.sleep(0.02)
    snapshot = await backend.get_run(run.run_id)
    assert snapshot.status is RunStatus.COMPLETED
    assert snapshot.usage is not None
    assert snapshot.usage.turns == 1


async def test_a_client_tool_call_is_answered_and_the_task_continues_as_the_same_run(
    orq: SandboxServer, connect: Connect
) -> None:
    backend = connect(orq)
    run = await backend.call_agent(AgentCallRequest(agent_id="weather-agent", message="Paris"))
    first = await _events(backend, run.run_id, lambda e: e.kind is EventKind.GATE_OPENED)
    gate = _gate(first)
    assert gate.kind == "tool_result"
    assert gate.resolvable
    assert gate.context["tool_calls"][0]["name"] == "get_weather"
    assert gate.context["tool_calls"][0]["arguments"] == {"city": "Paris"}
    assert [f.name for f in gate.fields] == ["result"]
    assert (await backend.get_run(run.run_id)).status is RunStatus.WAITING
    assert await backend.resolve_gate(gate, GateAnswer(decision="accept", values={"result": '{"temp_c": 18}'})) == {
        "resolved": True
    }
    rest = await _events(backend, run.run_id, lambda e: e.terminal, cursor=first[-1].seq)
    assert rest[0].kind is EventKind.GATE_RESOLVED
    assert EventKind.RUN_RESUMED in [e.kind for e in rest]  # the continuation's new stream, same run
    assert rest[-1].run_id == run.run_id
    assert rest[-1].data["outputs"]["text"] == 'The tool said: {"temp_c": 18}'
    assert _posts(orq, "POST /v2/agents/{key}/stream-task") == 2
    snapshot = await backend.get_run(run.run_id)
    assert snapshot.usage is not None
    assert snapshot.usage.turns == 2
    with pytest.raises(GateError):
        await backend.resolve_gate(gate, GateAnswer(decision="accept", values={"result": "again"}))


async def test_several_client_tool_calls_one_with_a_schema_are_answered_in_one_form(
    orq: SandboxServer, connect: Connect
) -> None:
    backend = connect(orq)
    run = await backend.start_run(StartRequest(target_id="intake-agent", message="ord_7"))
    gate = _gate(await _events(backend, run.run_id, lambda e: e.kind is EventKind.GATE_OPENED))
    assert [c["name"] for c in gate.context["tool_calls"]] == ["lookup_order", "ask_customer"]
    assert [(f.name, f.type, f.required) for f in gate.fields] == [
        ("result_1", "text", True),
        ("result_2_email", "text", True),
        ("result_2_callback", "boolean", False),
    ]
    assert gate.fields[1].label == "ask_customer: Customer email"
    values = {"result_1": "shipped", "result_2_email": "ana@example.com", "result_2_callback": True}
    await backend.resolve_gate(gate, GateAnswer(decision="accept", values=values))
    events = await _events(backend, run.run_id, lambda e: e.terminal)
    assert events[-1].data["outputs"]["text"] == (
        'The tool said: shipped; {"email": "ana@example.com", "callback": true}'
    )


async def test_a_declined_tool_call_sends_nothing(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    run = await backend.call_agent(AgentCallRequest(agent_id="weather-agent", message="Oslo"))
    gate = _gate(await _events(backend, run.run_id, lambda e: e.kind is EventKind.GATE_OPENED))
    assert await backend.resolve_gate(gate, GateAnswer(decision="decline")) == {"resolved": False}
    assert _posts(orq, "POST /v2/agents/{key}/stream-task") == 1


async def test_a_review_gate_waits_for_orq_ai_and_resolves_on_action_reviewed(
    orq: SandboxServer, connect: Connect
) -> None:
    backend = connect(orq)
    run = await backend.start_run(StartRequest(target_id="payments-agent", message="refund order 42"))
    first = await _events(backend, run.run_id, lambda e: e.kind is EventKind.GATE_OPENED)
    gate = _gate(first)
    assert gate.kind == "tool_approval"
    assert not gate.resolvable
    assert gate.context["tool"] == "issue_refund"
    assert gate.context["input"]["order_id"] == "ord_42"
    assert "orq.ai" in gate.prompt
    assert (await backend.get_run(run.run_id)).status is RunStatus.WAITING
    await _review(orq, run.run_id, "rejected")
    rest = await _events(backend, run.run_id, lambda e: e.terminal, cursor=first[-1].seq)
    resolved = [e for e in rest if e.kind is EventKind.GATE_RESOLVED]
    assert resolved
    assert resolved[0].gate_id == gate.gate_id
    assert resolved[0].data["review"] == "rejected"
    assert "rejected" in rest[-1].data["outputs"]["text"]
    assert EventKind.TOOL_CALLED not in [e.kind for e in rest]  # a rejected tool never ran


async def test_a_hand_off_and_a_failed_tool_are_run_events(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    run = await backend.start_run(StartRequest(target_id="triage-lead", message="my invoices"))
    events = await _events(backend, run.run_id, lambda e: e.terminal)
    texts = [e.text for e in events]
    assert "handed off to billing-specialist" in texts
    failed = [e for e in events if e.raw_type.endswith("tool_execution_failed")]
    assert failed
    assert failed[0].kind is EventKind.TOOL_RESULT
    assert "timed out" in failed[0].data["error"]
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert events[-1].data["outputs"]["title"]


async def test_an_errored_agent_fails_the_run(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    run = await backend.start_run(StartRequest(target_id="broken-agent", message="x"))
    events = await _events(backend, run.run_id, lambda e: e.terminal)
    assert events[-1].kind is EventKind.RUN_FAILED
    assert events[-1].data["error"]["code"] == "500"


async def test_a_stream_timeout_is_followed_by_reading_the_tasks_state(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq, stream_timeout_seconds=1, poll_seconds=0.05)
    run = await backend.start_run(StartRequest(target_id="slow-agent", message="deep"))
    events = await _events(backend, run.run_id, lambda e: e.raw_type == "agents.timeout")
    assert "timed out" in events[-1].text
    with anyio.fail_after(DEADLINE):
        while _posts(orq, "GET /v2/agents/{key}/responses/{task_id}") < 2:
            await anyio.sleep(0.05)
    assert (await backend.get_run(run.run_id)).status is RunStatus.RUNNING  # the task goes on, watched by state


async def test_a_polled_task_has_its_usage_in_this_process_and_after_a_restart(
    orq: SandboxServer, connect: Connect
) -> None:
    backend = connect(orq, poll_seconds=0.05)
    polled = await backend.call_agent(AgentCallRequest(agent_id="echo-agent", message="counted", endpoint="task"))
    end = (await _events(backend, polled.run_id, lambda e: e.terminal))[-1]
    assert end.usage is not None
    assert (end.usage.input_tokens, end.usage.output_tokens, end.usage.total_tokens) == (120, 30, 150)
    assert end.usage.cost_usd is None  # GET .../responses/{task_id} has no billing
    assert (await backend.get_run(polled.run_id)).usage == end.usage
    assert polled.locator is not None
    after = connect(orq)  # another process: only orq.ai's state of the task
    after.locate_run(polled.run_id, polled.locator)
    snapshot = await after.get_run(polled.run_id)
    assert snapshot.status is RunStatus.COMPLETED
    assert snapshot.usage == end.usage


async def test_the_task_and_responses_endpoints(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq, poll_seconds=0.05)
    polled = await backend.call_agent(AgentCallRequest(agent_id="echo-agent", message="polled", endpoint="task"))
    events = await _events(backend, polled.run_id, lambda e: e.terminal)
    assert events[-1].data["outputs"]["text"] == "You said: polled"
    assert _posts(orq, "POST /v2/agents/{key}/task") == 1
    streamed = await backend.call_agent(
        AgentCallRequest(agent_id="weather-agent", message="Rome", endpoint="responses")
    )
    gate = _gate(await _events(backend, streamed.run_id, lambda e: e.kind is EventKind.GATE_OPENED))
    assert gate.kind == "tool_result"
    assert gate.context["tool_calls"][0]["arguments"] == {"city": "Rome"}
    inline = {
        "model": "openai/gpt-4o-mini",
        "role": "Inline",
        "instructions": "Echo.",
        "path": "Default/agents",
        "settings": {},
    }
    key = f"inline-{uuid.uuid4().hex[:6]}"
    ran = await backend.call_agent(
        AgentCallRequest(agent_id=key, message="inline", endpoint="stream-run", options={"agent": inline})
    )
    done = await _events(backend, ran.run_id, lambda e: e.terminal)
    assert done[-1].data["outputs"]["text"] == "You said: inline"
    assert (await backend.get_agent(key)).id == key  # the inline run created the agent
    again = await backend.call_agent(
        AgentCallRequest(agent_id=key, message="not streamed", endpoint="run", options={"agent": inline})
    )
    assert (await _events(backend, again.run_id, lambda e: e.terminal))[-1].data["outputs"]["text"] == (
        "You said: not streamed"
    )
    assert _posts(orq, "POST /v2/agents/run") == 1
    with pytest.raises(InputError, match=r"options\.agent"):
        await backend.call_agent(AgentCallRequest(agent_id=key, message="x", endpoint="stream-run"))


async def test_call_options_pass_through_and_unknown_ones_are_refused(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    with pytest.raises(InputError, match="colour"):
        await backend.call_agent(AgentCallRequest(agent_id="echo-agent", message="x", options={"colour": "red"}))
    with pytest.raises(InputError, match="stream_timeout_seconds"):
        await backend.call_agent(
            AgentCallRequest(agent_id="echo-agent", message="x", options={"stream_timeout_seconds": 99999})
        )
    backend = connect(orq, stream_timeout_seconds=120)
    run = await backend.call_agent(
        AgentCallRequest(
            agent_id="echo-agent",
            message="with files",
            input={"user_name": "Ada"},
            options={
                "thread": {"id": "thread_1"},
                "memory": {"entity_id": "u-1"},
                "identity": {"id": "contact_1"},
                "metadata": {"k": "v"},
                "files": [{"uri": "https://files.example/a.pdf", "mime_type": "application/pdf"}],
            },
        )
    )
    events = await _events(backend, run.run_id, lambda e: e.terminal)
    assert events[-1].data["outputs"]["text"] == "You said: with files (+1 file)"
    state: OrqState = getattr(orq.apps["orq"], "state").orq  # noqa: B009  (a Starlette app's state)
    context = orq.call(lambda: state.tasks[run.run_id].context)
    assert context == {
        "identity": {"id": "contact_1"},
        "thread": {"id": "thread_1"},
        "memory": {"entity_id": "u-1"},
        "metadata": {"k": "v"},
        "variables": {"user_name": "Ada"},  # the call's `input`
        "stream_timeout_seconds": 120,  # the profile's option
    }
    with pytest.raises(NotFoundError, match="nobody"):
        await backend.call_agent(AgentCallRequest(agent_id="nobody", message="x"))
    with pytest.raises(NotFoundError, match="no task 'gone'"):
        await backend.call_agent(AgentCallRequest(agent_id="echo-agent", message="x", options={"task_id": "gone"}))
    with pytest.raises(InputError, match="inline"):
        await backend.call_agent(AgentCallRequest(agent_id="echo-agent", message="x", options={"agent": {"a": 1}}))


async def test_reads_are_retried_on_429_and_5xx(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    orq.faults.burst(429, 2, retry_after=0, method="GET")
    assert (await backend.get_agent("echo-agent")).id == "echo-agent"
    orq.faults.burst(503, 2, retry_after=0, method="GET")
    page = await backend.list_agents(limit=2)
    assert len(page.items) == 2
    assert _posts(orq, "GET /v2/agents/{agent_key}") == 3
    assert _posts(orq, "GET /v2/agents") == 3


async def test_starts_are_never_retried(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    orq.faults.burst(503, 1, retry_after=0, method="POST")
    with pytest.raises(UnavailableError):
        await backend.start_run(StartRequest(target_id="echo-agent", message="once"))
    assert _posts(orq, "POST /v2/agents/{key}/stream-task") == 1
    orq.faults.burst(429, 1, retry_after=0, method="POST")
    with pytest.raises(RateLimitedError):
        await backend.call_agent(AgentCallRequest(agent_id="echo-agent", message="once", endpoint="task"))
    assert _posts(orq, "POST /v2/agents/{key}/task") == 1


async def test_cancel_is_refused_saying_why(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    with pytest.raises(UnsupportedError, match="cancel"):
        await backend.cancel_run("any")


async def test_an_execution_review_and_a_stream_level_error(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    run = await backend.start_run(StartRequest(target_id="release-agent", message="ship"))
    first = await _events(backend, run.run_id, lambda e: e.kind is EventKind.GATE_OPENED)
    gate = _gate(first)
    assert gate.kind == "approval"
    assert not gate.resolvable
    await _review(orq, run.run_id, "approved")
    rest = await _events(backend, run.run_id, lambda e: e.terminal, cursor=first[-1].seq)
    assert [e.gate_id for e in rest if e.kind is EventKind.GATE_RESOLVED] == [gate.gate_id]
    assert rest[-1].data["outputs"]["text"] == "The release notes were published."
    failed = await backend.start_run(StartRequest(target_id="overloaded-agent", message="x"))
    events = await _events(backend, failed.run_id, lambda e: e.terminal)
    assert events[-1].kind is EventKind.RUN_FAILED
    assert events[-1].data["error"]["code"] == "overloaded"


async def test_a_task_is_followed_after_a_restart_by_its_locator(orq: SandboxServer, connect: Connect) -> None:
    before = connect(orq)
    run = await before.call_agent(AgentCallRequest(agent_id="weather-agent", message="Bergen"))
    gate = _gate(await _events(before, run.run_id, lambda e: e.kind is EventKind.GATE_OPENED))
    assert run.locator is not None
    after = connect(orq, poll_seconds=0.05)  # another process: no stream, no log, only what the store kept
    unknown = await after.get_run(run.run_id)
    assert unknown.status is RunStatus.UNKNOWN
    after.locate_run(run.run_id, run.locator)
    snapshot = await after.get_run(run.run_id)
    assert snapshot.status is RunStatus.WAITING  # from orq.ai's own state of the task
    assert snapshot.open_gate is not None
    assert snapshot.open_gate.gate_id == gate.gate_id
    await after.resolve_gate(gate, GateAnswer(decision="accept", values={"result": "windy"}))
    events = await _events(after, run.run_id, lambda e: e.terminal, cursor=gate.resume.get("seq"))
    assert events[-1].data["outputs"]["text"] == "The tool said: windy"
    ended = await after.get_run(run.run_id)
    assert ended.status is RunStatus.COMPLETED


async def test_a_later_turn_of_a_task_is_a_run_of_its_own(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq)
    first = await backend.call_agent(AgentCallRequest(agent_id="echo-agent", message="first"))
    assert (await _events(backend, first.run_id, lambda e: e.terminal))[-1].data["outputs"]["text"] == "You said: first"
    later = await backend.call_agent(
        AgentCallRequest(agent_id="echo-agent", message="second", options={"task_id": first.run_id})
    )
    assert later.run_id.startswith(f"{first.run_id}~")
    events = await _events(backend, later.run_id, lambda e: e.terminal)
    assert events[0].kind is EventKind.RUN_STARTED
    assert events[0].seq == "1"
    assert events[-1].data["outputs"]["text"] == "You said: second"
    assert (await backend.get_run(first.run_id)).status is RunStatus.COMPLETED
    fresh = connect(orq)  # another process reads the later turn from orq.ai's state of the task
    fresh.locate_run(later.run_id, {"agent_key": "echo-agent"})
    assert (await fresh.get_run(later.run_id)).outputs == {"text": "You said: second", "finish_reason": "stop"}


async def test_a_dropped_stream_is_followed_to_the_end_by_the_tasks_state(orq: SandboxServer, connect: Connect) -> None:
    backend = connect(orq, poll_seconds=0.05)
    orq.faults.set_stream(drop_after=[3])
    try:
        run = await backend.start_run(StartRequest(target_id="triage-lead", message="invoices"))
        events = await _events(backend, run.run_id, lambda e: e.terminal)
    finally:
        orq.faults.set_stream()
    assert [e.raw_type for e in events][:3] == [
        "agents.execution_started",
        "event.agents.started",
        "event.agents.thought",
    ]
    assert events[3].raw_type == "runbridge.stream_lost"
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert events[-1].data["outputs"]["text"] == "billing-specialist: you have 2 open invoices."
    assert orq.stats()["stream_drops"] == 1
    assert (await backend.get_run(run.run_id)).status is RunStatus.COMPLETED


async def test_a_stream_closed_without_done_is_broken_and_the_task_followed_by_its_state(
    orq: SandboxServer, connect: Connect
) -> None:
    backend = connect(orq, poll_seconds=0.05)
    key = f"hangup-{uuid.uuid4().hex[:6]}"
    spec = {
        "key": key,
        "role": "Echo",
        "description": "Its streams close early.",
        "instructions": "Echo.",
        "path": "Default/agents",
        "model": "openai/gpt-4o-mini",
        "settings": {},
        "variables": {"sandbox_script": "hangup"},
    }
    await backend.create_agent(spec)
    run = await backend.start_run(StartRequest(target_id=key, message="cut short"))
    events = await _events(backend, run.run_id, lambda e: e.terminal)
    lost = [e for e in events if e.raw_type == "runbridge.stream_lost"]
    assert len(lost) == 1
    assert "[DONE]" in lost[0].text
    assert events.index(lost[0]) == 2  # right after the two events the stream carried
    assert events[-1].kind is EventKind.RUN_COMPLETED  # read from the task's state
    assert events[-1].data["outputs"]["text"] == "You said: cut short"
    assert _posts(orq, "GET /v2/agents/{key}/responses/{task_id}") >= 1
