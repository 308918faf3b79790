"""The orchestrations (Synapse) adapter against the sandbox over loopback: the catalogue, streamed and synchronous
runs, gate → resume → second gate → complete, the cost limit, dropped streams on v1 and v2, the resume guard,
re-attaching after a restart, errors."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup
from pydantic import ValidationError

from runbridge.backends import create_backend
from runbridge.backends.orchestrations import OrchestrationsBackend
from runbridge.core.config import Profile
from runbridge.core.errors import (
    AuthError,
    ConfigError,
    CursorError,
    GateError,
    NotFoundError,
    StreamError,
    UnsupportedError,
)
from runbridge.core.models import EventKind, Gate, GateAnswer, RunEvent, RunStatus, StartRequest
from runbridge.core.protocols import capabilities_of
from runbridge.http import HttpClient, RetryPolicy, Secret
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY = "sk-syn-SENTINEL-0000000000000000"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, budget=2.0)
DEADLINE = 15.0
APPROVE = GateAnswer(decision="accept", values={"decision": "approve", "notes": "Publish it."})

Connect = Callable[..., OrchestrationsBackend]


@pytest.fixture(scope="module")
def _servers() -> Iterator[dict[str, SandboxServer]]:
    pool: dict[str, SandboxServer] = {}
    yield pool
    SandboxServer.stop_all(pool.values())


@pytest.fixture
def make_synapse(_servers: dict[str, SandboxServer]) -> Callable[..., SandboxServer]:
    """A Synapse sandbox of a variant (`reference`, `scale`, `seed`), shared per module, reset for each test."""

    def make(variant: str = "reference") -> SandboxServer:
        server = _servers.get(variant)
        if server is None:
            server = _servers[variant] = SandboxServer(
                "orchestrations", variant=variant, api_key=KEY, keepalive_seconds=0.05
            ).start()
        server.faults.clear()
        server.context.stats.reset()
        return server

    return make


@pytest.fixture
def synapse(make_synapse: Callable[..., SandboxServer]) -> SandboxServer:
    return make_synapse()


@pytest.fixture
async def tasks(anyio_backend: str) -> AsyncIterator[TaskGroup]:
    """The task group a server would hand the adapter (its streams outlive one call)."""
    async with anyio.create_task_group() as group:
        yield group
        group.cancel_scope.cancel()


@pytest.fixture
async def connect(tasks: TaskGroup) -> AsyncIterator[Connect]:
    """`connect(sandbox, tasks=True, key=None, **options)` → an adapter on the sandbox, closed at teardown."""
    made: list[OrchestrationsBackend] = []

    def _connect(
        sb: SandboxServer, *, with_tasks: bool = True, key: str = KEY, **options: Any
    ) -> OrchestrationsBackend:
        profile = Profile(
            name="synapse",
            family="orchestrations",
            base_url=sb.base_url,
            read_timeout=5.0,
            connect_timeout=2.0,
            options=options,
        )
        http = HttpClient(profile, secret=Secret(key), retry=FAST_RETRY)
        backend = OrchestrationsBackend(profile, http, tasks=tasks if with_tasks else None)
        made.append(backend)
        return backend

    yield _connect
    for backend in made:
        await backend.aclose()


async def _start(backend: OrchestrationsBackend, target: str, message: str = "quantum computing") -> str:
    with anyio.fail_after(DEADLINE):
        run = await backend.start_run(StartRequest(target_id=target, message=message))
    return run.run_id


async def _until(stream: AsyncIterator[RunEvent], stop: Callable[[RunEvent], bool]) -> list[RunEvent]:
    """Events of an open watch up to and including the first for which `stop` is true."""
    seen: list[RunEvent] = []
    with anyio.fail_after(DEADLINE):
        async for event in stream:
            seen.append(event)
            if stop(event):
                return seen
    raise AssertionError(f"the watch ended without the awaited event: {[e.raw_type for e in seen]}")


def _gate_opened(event: RunEvent) -> bool:
    return event.kind is EventKind.GATE_OPENED


def _terminal(event: RunEvent) -> bool:
    return event.terminal


def _gate(events: list[RunEvent]) -> Gate:
    gate = events[-1].gate
    assert gate is not None
    return gate


async def test_the_factory_builds_the_adapter_with_the_servers_task_group(
    synapse: SandboxServer, tasks: TaskGroup
) -> None:
    profile = Profile(name="s", family="orchestrations", base_url=synapse.base_url)
    backend = create_backend(profile, tasks=tasks)
    assert isinstance(backend, OrchestrationsBackend)
    assert backend.streamed
    assert capabilities_of(backend) == {"targets", "runs", "gates"}
    await backend.aclose()


async def test_the_catalogue_lists_orchestrations_and_describes_their_steps(
    synapse: SandboxServer, connect: Connect
) -> None:
    backend = connect(synapse)
    page = await backend.list_targets(limit=100)
    seed = next(t for t in page.items if t.id == "orch-research-report")
    assert (seed.kind, seed.name, seed.step_count) == ("orchestration", "Research \u2192 Report", 5)
    target = await backend.describe_target("orch-research-report")
    assert target.steps is not None
    assert [(s.id, s.name, s.index) for s in target.steps][1] == ("step-research", "Research", 2)
    assert target.details["step_types"]["step-approve"] == "human"
    first = await backend.list_targets(limit=2)
    assert len(first.items) == 2
    assert first.next_cursor == "2"


async def test_a_streamed_run_reports_its_steps_and_waits_at_the_gate_until_resumed(
    synapse: SandboxServer, connect: Connect
) -> None:
    backend = connect(synapse)
    run_id = await _start(backend, "orch-research-report")
    assert re.fullmatch(r"run_orch-research-report_\d{13}", run_id)
    watch = backend.watch(run_id)
    events = await _until(watch, _gate_opened)
    assert events[0].kind is EventKind.RUN_STARTED
    research = next(e for e in events if e.kind is EventKind.STEP_STARTED and e.step and e.step.id == "step-research")
    assert research.step is not None
    assert (research.step.name, research.step.index, research.step.total) == ("Research", 2, 5)
    tool = next(e for e in events if e.kind is EventKind.TOOL_CALLED)
    assert tool.text == "tool web_search"
    assert [e.seq for e in events] == [str(i) for i in range(1, len(events) + 1)]
    gate = _gate(events)
    assert gate.gate_id == f"{run_id}:step-approve"
    assert gate.kind == "approval"
    assert gate.prompt == "Please review the draft article and decide whether to publish."
    assert [(f.name, f.type, f.options, f.required) for f in gate.fields] == [
        ("decision", "select", ["approve", "reject"], True),
        ("notes", "text", None, False),
    ]
    assert gate.fields[1].label == "Editor notes"
    assert gate.context["agent_context"].startswith("Draft article:")
    assert gate.step is not None
    assert (gate.step.index, gate.step.total) == (4, 5)
    waiting = await backend.get_run(run_id)
    assert waiting.status is RunStatus.WAITING
    assert waiting.current_step is not None
    assert waiting.current_step.id == "step-approve"
    assert waiting.open_gate is not None

    with anyio.fail_after(DEADLINE):
        assert await backend.resolve_gate(gate, APPROVE) == {"resolved": True}
    rest = await _until(watch, _terminal)  # the same watch: it waited through the gate
    assert rest[0].kind is EventKind.GATE_RESOLVED
    assert rest[1].step is not None
    assert rest[1].step.id == "step-report"
    end = rest[-1]
    assert end.kind is EventKind.RUN_COMPLETED
    assert end.data["outputs"]["response"] == "Research and report generation complete."
    assert end.data["outputs"]["shared_state"]["human_response"] == APPROVE.values
    assert end.usage is not None
    assert (end.usage.cost_usd, end.usage.turns) == (pytest.approx(0.052), 5)
    run = await backend.get_run(run_id)
    assert run.status is RunStatus.COMPLETED
    assert run.usage == end.usage
    assert [h["step_id"] for h in run.details["step_history"]][-1] == "step-report"
    assert synapse.stats()["stream_connections"] == 2


async def test_a_gate_then_a_second_gate_with_one_text_field_then_completion(
    synapse: SandboxServer, connect: Connect
) -> None:
    backend = connect(synapse)
    run_id = await _start(backend, "orch-two-gates")
    watch = backend.watch(run_id)
    review = _gate(await _until(watch, _gate_opened))
    assert review.kind == "input"  # approve/revise is a choice, not an approval with a reject
    with anyio.fail_after(DEADLINE):
        await backend.resolve_gate(
            review, GateAnswer(decision="accept", values={"decision": "revise", "notes": "Tighter"})
        )
    middle = await _until(watch, _gate_opened)
    decision = next(e for e in middle if e.kind is EventKind.DECISION)
    assert decision.text == "decision: revise"
    headline = _gate(middle)
    assert headline.gate_id == f"{run_id}:step-headline"
    assert [(f.name, f.type, f.required) for f in headline.fields] == [("headline", "text", True)]
    with anyio.fail_after(DEADLINE):
        await backend.resolve_gate(headline, GateAnswer(decision="accept", values={"headline": "Three findings"}))
    end = (await _until(watch, _terminal))[-1]
    assert end.kind is EventKind.RUN_COMPLETED
    state = end.data["outputs"]["shared_state"]
    assert state["headline_output"] == {"headline": "Three findings"}  # sent as a plain string
    assert state["review_output"] == {"decision": "revise", "notes": "Tighter"}
    with pytest.raises(GateError) as again:
        await backend.resolve_gate(headline, GateAnswer(decision="accept", values={"headline": "Twice"}))
    assert again.value.closed
    stats = synapse.stats()
    assert (stats["resolves"], stats.get("resumes_without_gate", 0)) == (2, 0)


async def test_a_synchronous_run_pauses_resumes_and_completes(synapse: SandboxServer, connect: Connect) -> None:
    backend = connect(synapse, stream=False)
    assert not backend.streamed
    with anyio.fail_after(DEADLINE):
        run = await backend.start_run(StartRequest(target_id="orch-research-report", message="AI trends"))
    assert run.status is RunStatus.WAITING
    assert run.open_gate is not None
    events = await _until(backend.watch(run.run_id), _gate_opened)
    assert [e.kind for e in events] == [EventKind.RUN_STARTED, EventKind.GATE_OPENED]
    gate = _gate(events)
    assert gate.gate_id == f"{run.run_id}:step-approve"
    assert gate.step is not None
    assert (gate.step.name, gate.step.index) == ("Approval", 4)
    with anyio.fail_after(DEADLINE):
        await backend.resolve_gate(gate, APPROVE)
    rest = await _until(backend.watch(run.run_id, cursor=events[-1].seq), _terminal)
    assert rest[0].kind is EventKind.GATE_RESOLVED
    steps = [e.step.id for e in rest if e.kind is EventKind.STEP_COMPLETED and e.step]
    assert steps == ["step-plan", "step-research", "step-draft", "step-report"]
    assert rest[-1].kind is EventKind.RUN_COMPLETED
    assert rest[-1].usage is not None
    assert rest[-1].usage.cost_usd == pytest.approx(0.052)
    stats = synapse.stats()["requests"]
    assert stats["POST /api/v1/orchestrations/{orch_id}/run"] == 1
    assert stats["POST /api/v1/orchestrations/runs/{run_id}/resume"] == 1


async def test_without_a_task_group_the_adapter_runs_synchronously(synapse: SandboxServer, connect: Connect) -> None:
    backend = connect(synapse, with_tasks=False)
    assert not backend.streamed
    run_id = await _start(backend, "orch-quick-summary")
    events = await _until(backend.watch(run_id), _terminal)
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert "POST /api/v1/orchestrations/{orch_id}/run" in synapse.stats()["requests"]


@pytest.mark.parametrize("stream", [True, False])
async def test_a_cost_limit_breach_is_a_failed_run_with_the_reason(
    stream: bool, synapse: SandboxServer, connect: Connect
) -> None:
    backend = connect(synapse, stream=stream)
    run_id = await _start(backend, "orch-cost-limit")
    end = (await _until(backend.watch(run_id), _terminal))[-1]
    assert end.kind is EventKind.RUN_FAILED
    assert end.data["error"] == "Cost limit exceeded: $0.52 > max $0.50"
    run = await backend.get_run(run_id)
    assert (run.status, run.error) == (RunStatus.FAILED, "Cost limit exceeded: $0.52 > max $0.50")
    if not stream:  # the synchronous answer carries the history, and with it what the run cost
        assert run.usage is not None
        assert run.usage.cost_usd == pytest.approx(0.52)


async def test_a_failed_step_fails_the_run_with_its_message(synapse: SandboxServer, connect: Connect) -> None:
    backend = connect(synapse)
    run_id = await _start(backend, "failing-demo")
    events = await _until(backend.watch(run_id), _terminal)
    assert any(e.kind is EventKind.STEP_FAILED for e in events)
    assert events[-1].kind is EventKind.RUN_FAILED
    assert events[-1].data["error"].startswith("Fetching the dataset failed")


async def test_a_v1_stream_dropped_before_the_gate_is_a_clear_error(synapse: SandboxServer, connect: Connect) -> None:
    synapse.faults.set_stream(drop_after=[3])
    backend = connect(synapse)
    run_id = await _start(backend, "orch-research-report")
    seen: list[RunEvent] = []

    async def read_all() -> None:
        async for event in backend.watch(run_id):
            seen.append(event)

    with anyio.fail_after(DEADLINE), pytest.raises(StreamError) as lost:
        await read_all()
    assert len(seen) == 3
    assert "cannot re-attach" in str(lost.value)
    run = await backend.get_run(run_id)
    assert run.details["stream"] == "lost"
    with pytest.raises(StreamError):  # and it says so again, after the events it has
        await _until(backend.watch(run_id, cursor="3"), _terminal)


async def test_a_v1_stream_dropped_after_the_gate_recovers_through_the_resume(
    synapse: SandboxServer, connect: Connect
) -> None:
    synapse.faults.set_stream(drop_after=[14])  # everything up to the gate, but not the `done` after it
    backend = connect(synapse)
    run_id = await _start(backend, "orch-research-report")
    watch = backend.watch(run_id)
    gate = _gate(await _until(watch, _gate_opened))
    with anyio.fail_after(DEADLINE):
        await backend.resolve_gate(gate, APPROVE)
    assert (await _until(watch, _terminal))[-1].kind is EventKind.RUN_COMPLETED
    assert synapse.stats()["stream_drops"] == 1


async def test_after_a_restart_a_run_cannot_be_reattached_but_its_gate_can_be_answered(
    synapse: SandboxServer, connect: Connect
) -> None:
    before = connect(synapse)
    run_id = await _start(before, "orch-research-report")
    gate = _gate(await _until(before.watch(run_id), _gate_opened))
    after = connect(synapse)  # a new process: no logs, only the gate the registry kept
    with pytest.raises(UnsupportedError) as unknown:
        await _until(after.watch(run_id), _terminal)
    assert "gates_respond" in str(unknown.value)
    assert (await after.get_run(run_id)).target_id == "orch-research-report"
    restored = Gate.model_validate({**gate.model_dump(), "resume": gate.resume})
    with anyio.fail_after(DEADLINE):
        await after.resolve_gate(restored, APPROVE)
    rest = await _until(after.watch(run_id, cursor=gate.resume["seq"]), _terminal)
    assert int(rest[0].seq) == int(gate.resume["seq"]) + 1
    assert rest[-1].kind is EventKind.RUN_COMPLETED
    assert rest[-1].data["outputs"]["shared_state"]["approve_output"] == APPROVE.values


async def test_a_waiting_v1_run_can_be_abandoned_and_is_never_resumed_after(
    synapse: SandboxServer, connect: Connect
) -> None:
    backend = connect(synapse)
    run_id = await _start(backend, "orch-research-report")
    watch = backend.watch(run_id)
    gate = _gate(await _until(watch, _gate_opened))
    cancelled = await backend.cancel_run(run_id)
    assert cancelled.status is RunStatus.CANCELLED
    assert "never resume" in cancelled.details["note"]
    assert (await _until(watch, _terminal))[-1].kind is EventKind.RUN_CANCELLED  # a waiting watch ends too
    assert (await backend.get_run(run_id)).status is RunStatus.CANCELLED
    with pytest.raises(GateError) as refused:
        await backend.resolve_gate(gate, APPROVE)
    assert refused.value.closed
    assert synapse.stats()["resolves"] == 0
    running = await _start(backend, "orch-quick-summary")
    with pytest.raises(UnsupportedError):
        await backend.cancel_run(running)


async def test_declining_an_approval_answers_its_reject_option(synapse: SandboxServer, connect: Connect) -> None:
    backend = connect(synapse)
    run_id = await _start(backend, "orch-research-report")
    watch = backend.watch(run_id)
    gate = _gate(await _until(watch, _gate_opened))
    with anyio.fail_after(DEADLINE):
        await backend.resolve_gate(gate, GateAnswer(decision="decline"))
    end = (await _until(watch, _terminal))[-1]
    assert end.data["outputs"]["shared_state"]["human_response"] == {"decision": "reject"}


async def test_the_seed_spelling_is_read_the_same(make_synapse: Callable[..., SandboxServer], connect: Connect) -> None:
    backend = connect(make_synapse("seed"))
    run_id = await _start(backend, "orch-research-report")
    events = await _until(backend.watch(run_id), _gate_opened)
    research = next(e for e in events if e.kind is EventKind.STEP_STARTED and e.step and e.step.name == "Research")
    assert research.step is not None
    assert research.step.index == 2
    assert _gate(events).gate_id == f"{run_id}:step-approve"


async def test_a_v2_run_is_queued_followed_through_its_gate_and_completed(
    make_synapse: Callable[..., SandboxServer], connect: Connect
) -> None:
    scale = make_synapse("scale")
    backend = connect(scale, api_versions=["v1", "v2"])
    with anyio.fail_after(DEADLINE):
        run = await backend.start_run(StartRequest(target_id="orch-research-report", message="x"))
    assert run.status is RunStatus.QUEUED
    watch = backend.watch(run.run_id)
    events = await _until(watch, _gate_opened)
    assert all(re.fullmatch(r"\d+-\d+", e.seq) for e in events)
    waiting = await backend.get_run(run.run_id)
    assert waiting.status is RunStatus.WAITING
    assert waiting.open_gate is not None
    with anyio.fail_after(DEADLINE):
        await backend.resolve_gate(_gate(events), APPROVE)
    end = (await _until(watch, _terminal))[-1]
    assert end.kind is EventKind.RUN_COMPLETED
    done = await backend.get_run(run.run_id)
    assert done.status is RunStatus.COMPLETED
    assert done.usage is not None
    assert done.usage.cost_usd == pytest.approx(0.052)
    with pytest.raises(GateError):
        await backend.resolve_gate(_gate(events), APPROVE)


async def test_a_dropped_v2_stream_reconnects_with_last_event_id_and_delivers_every_event_once(
    make_synapse: Callable[..., SandboxServer], connect: Connect
) -> None:
    scale = make_synapse("scale")
    backend = connect(scale, api_versions=["v1", "v2"])
    clean_id = await _start(backend, "orch-quick-summary")
    clean = await _until(backend.watch(clean_id), _terminal)
    run_id = await _start(backend, "orch-quick-summary")
    scale.faults.for_run(run_id, drop_after=[2, 3, 1])
    events = await _until(backend.watch(run_id), _terminal)
    assert [e.raw_type for e in events] == [e.raw_type for e in clean]
    numbers = [tuple(map(int, e.seq.split("-"))) for e in events]
    assert numbers == sorted(set(numbers))
    stats = scale.stats()
    assert (stats["stream_drops"], stats["stream_connections"]) == (3, 5)
    replay = await _until(backend.watch(run_id, cursor=events[2].seq), _terminal)
    assert [e.seq for e in replay] == [e.seq for e in events[3:]]


async def test_a_v2_run_can_be_cancelled_and_is_then_never_resumed(
    make_synapse: Callable[..., SandboxServer], connect: Connect
) -> None:
    scale = make_synapse("scale")
    backend = connect(scale, api_versions=["v1", "v2"])
    run_id = await _start(backend, "orch-research-report")
    watch = backend.watch(run_id)
    gate = _gate(await _until(watch, _gate_opened))
    cancelled = await backend.cancel_run(run_id)
    assert cancelled.status is RunStatus.CANCELLED
    assert (await _until(watch, _terminal))[-1].kind is EventKind.RUN_CANCELLED
    with pytest.raises(GateError):
        await backend.resolve_gate(gate, APPROVE)
    assert scale.stats()["resolves"] == 0


async def test_bad_credentials_and_unknown_ids_are_typed_errors(synapse: SandboxServer, connect: Connect) -> None:
    with pytest.raises(AuthError) as denied:
        await connect(synapse, key="sk-syn-wrong").list_targets()
    assert denied.value.status == 401
    assert "Invalid or revoked API key" in str(denied.value)
    backend = connect(synapse)
    with pytest.raises(NotFoundError) as missing:
        await backend.describe_target("nope")
    assert "Orchestration 'nope' not found" in str(missing.value)
    with pytest.raises(NotFoundError):
        await backend.start_run(StartRequest(target_id="nope", message="x"))
    with pytest.raises(NotFoundError):
        await connect(synapse, stream=False).start_run(StartRequest(target_id="nope"))


async def test_reads_are_retried_through_a_429_burst(synapse: SandboxServer, connect: Connect) -> None:
    synapse.faults.burst(429, 2, retry_after=0, method="GET")
    page = await connect(synapse).list_targets()
    assert page.items
    assert synapse.stats()["statuses"]["429"] == 2


async def test_pings_in_a_quiet_stream_change_nothing(synapse: SandboxServer, connect: Connect) -> None:
    backend = connect(synapse)
    clean = await _until(backend.watch(await _start(backend, "orch-quick-summary")), _terminal)
    synapse.faults.set_stream(quiet_at=2, quiet_seconds=0.15)  # `: ping` comments only, before the third event
    events = await _until(backend.watch(await _start(backend, "orch-quick-summary")), _terminal)
    assert [(e.kind, e.text) for e in events] == [(e.kind, e.text) for e in clean]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"api_versions": ["v3"]}, "options.api_versions.0: Input should be 'v1' or 'v2' (got 'v3')"),
        ({"api_versions": "v2"}, "options.api_versions: Input should be a valid list (got 'v2')"),
        ({"stream": "yes"}, "options.stream: Input should be a valid boolean (got 'yes')"),
    ],
)
def test_wrong_family_options_are_configuration_errors(options: dict[str, Any], said: str) -> None:
    with pytest.raises(ValidationError) as refused:  # when the profile is read, before any adapter exists
        Profile(name="bad", family="orchestrations", base_url="http://127.0.0.1:9", options=options)
    assert said in str(refused.value)
    # A profile changed without validation (`model_copy`) is refused by the adapter, with the same words.
    good = Profile(name="bad", family="orchestrations", base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="Profile 'bad': options") as caught:
        OrchestrationsBackend(good.model_copy(update={"options": options}))
    assert said in str(caught.value)


# -- cursors runbridge did not give out ------------------------------------------------------------------------------


async def test_a_garbled_targets_cursor_is_refused_instead_of_restarting_the_list(
    synapse: SandboxServer, connect: Connect
) -> None:
    backend = connect(synapse)
    with anyio.fail_after(DEADLINE):
        first = await backend.list_targets(limit=1)
        second = await backend.list_targets(cursor=first.next_cursor, limit=1)
    assert second.items[0].id != first.items[0].id
    with pytest.raises(CursorError, match="Invalid cursor 'page-2'"):
        await backend.list_targets(cursor="page-2", limit=1)


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_a_garbled_event_cursor_is_refused_instead_of_replaying_from_the_start(
    api: str, make_synapse: Callable[..., SandboxServer], connect: Connect
) -> None:
    sandbox = make_synapse("scale")
    backend = connect(sandbox, api_versions=["v1", "v2"] if api == "v2" else ["v1"])
    run_id = await _start(backend, "orch-research-report")
    events = await _until(backend.watch(run_id), _gate_opened)
    with pytest.raises(CursorError):
        await _until(backend.watch(run_id, cursor="not-a-cursor"), _terminal)
    later = await _until(backend.watch(run_id, cursor=events[1].seq), _gate_opened)
    assert later[0].seq == events[2].seq, "a cursor runbridge gave out still resumes right after its event"


async def test_a_v1_page_is_the_logged_events_after_a_cursor_at_once_and_v2_or_unknown_runs_have_none(
    synapse: SandboxServer, make_synapse: Callable[..., SandboxServer], connect: Connect
) -> None:
    backend = connect(synapse)
    run_id = await _start(backend, "orch-research-report")
    events = await _until(backend.watch(run_id), _gate_opened)
    requests = sum(synapse.stats()["requests"].values())
    whole = await backend.event_page(run_id)
    rest = await backend.event_page(run_id, cursor=events[2].seq)
    assert sum(synapse.stats()["requests"].values()) == requests, "read from runbridge's own log of the run"
    assert whole is not None
    assert rest is not None
    assert [e.seq for e in whole.events] == [e.seq for e in events]
    assert [e.seq for e in rest.events] == [e.seq for e in events[3:]]
    assert not whole.complete, "the run waits at its gate"
    with anyio.fail_after(DEADLINE):
        await backend.resolve_gate(_gate(events), APPROVE)
    await _until(backend.watch(run_id, cursor=events[-1].seq), _terminal)
    done = await backend.event_page(run_id, cursor=events[-1].seq)
    assert done is not None
    assert done.complete
    assert done.events[-1].kind is EventKind.RUN_COMPLETED
    assert await backend.event_page("run_orch-research-report_0000000000000") is None
    assert await connect(make_synapse("scale"), api_versions=["v1", "v2"]).event_page(run_id) is None


async def test_a_v1_page_after_the_stream_was_lost_says_so_once_nothing_is_left(
    synapse: SandboxServer, connect: Connect
) -> None:
    synapse.faults.set_stream(drop_after=[3])
    backend = connect(synapse)
    run_id = await _start(backend, "orch-research-report")
    with anyio.fail_after(DEADLINE), pytest.raises(StreamError):
        await _until(backend.watch(run_id), _terminal)
    page = await backend.event_page(run_id)
    assert page is not None
    assert len(page.events) == 3
    with pytest.raises(StreamError, match="cannot re-attach"):
        await backend.event_page(run_id, cursor="3")


async def test_a_v2_profile_on_a_server_without_scale_mode_fails_at_once_and_asks_the_server_once(
    synapse: SandboxServer, connect: Connect
) -> None:
    """The 503 "Scale mode is not enabled" is the server's configuration, not an outage: never retried, and once
    seen, said again without asking the server again."""
    backend = connect(synapse, api_versions=["v1", "v2"])
    with pytest.raises(UnsupportedError) as first:
        await backend.get_run("run_orch-quick-summary_1")  # a read: any other 503 would be retried
    with pytest.raises(UnsupportedError) as again:
        await backend.start_run(StartRequest(target_id="orch-quick-summary"))
    assert 'remove "v2" from the profile\'s options.api_versions' in str(first.value)
    assert str(again.value) == str(first.value)
    v2 = {route: n for route, n in synapse.stats()["requests"].items() if "/api/v2/" in route}
    assert sum(v2.values()) == 1, v2


async def test_steps_without_labels_are_named_by_their_events_never_by_their_ids(
    make_synapse: Callable[..., SandboxServer], connect: Connect
) -> None:
    """Synapse 1.9.2's describe route sends `label: ""` for every step: a step is then unnamed, not named by its id,
    and a run's events name each step as it starts."""
    backend = connect(make_synapse("1.9.2"))
    target = await backend.describe_target("orch-research-report")
    assert target.steps is not None
    assert [s.name for s in target.steps] == [None] * len(target.steps)
    run_id = await _start(backend, "orch-research-report")
    seen = await _until(backend.watch(run_id), _gate_opened)
    named = [e.step for e in seen if e.step is not None and e.step.id]
    assert named
    assert all(s.name and s.name != s.id for s in named), [(s.id, s.name) for s in named]
    gate = _gate(seen)
    assert gate.step is not None
    assert gate.step.name == "Approval"
    named_now = {s.id: s.name for s in (await backend.describe_target("orch-research-report")).steps or []}
    assert named_now["step-approve"] == "Approval"  # what the run's events named it


def traceback_of(record: logging.LogRecord) -> str:
    """The traceback a log record carries (runbridge's redacting filter turns it into text once logging is set up)."""
    if record.exc_info:
        return logging.Formatter().formatException(record.exc_info)
    return record.exc_text or ""


async def test_a_bug_while_reading_a_v1_stream_is_logged_with_its_traceback_and_not_taken_for_a_broken_connection(
    synapse: SandboxServer, connect: Connect, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from runbridge.backends.orchestrations import v1

    parsed = 0
    real = v1.parse_data

    def buggy(data: str) -> dict[str, Any] | None:
        nonlocal parsed
        parsed += 1
        if parsed == 4:  # after the run was named: the stream is read in the background by then
            raise ZeroDivisionError("a bug in runbridge")
        return real(data)

    monkeypatch.setattr(v1, "parse_data", buggy)
    backend = connect(synapse)
    run_id = await _start(backend, "orch-research-report")
    with anyio.fail_after(DEADLINE), pytest.raises(StreamError) as lost:
        async for _ in backend.watch(run_id):
            pass
    assert "internal error" in str(lost.value)
    assert "ZeroDivisionError" in str(lost.value)
    assert "connection broke" not in str(lost.value)
    bugs = [r for r in caplog.records if r.name == "runbridge.orchestrations" and r.levelname == "ERROR"]
    assert bugs, "the bug was not logged at error level"
    assert "ZeroDivisionError: a bug in runbridge" in traceback_of(bugs[0])
