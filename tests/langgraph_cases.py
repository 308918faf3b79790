"""The LangGraph adapter's tests, run as they are against the real Agent Server
(tests/real/test_langgraph_adapter_real.py) and against runbridge's LangGraph sandbox
(tests/integration/test_langgraph_adapter.py): a module that imports them provides the `lg` fixture (an `LgHost`).
That the same tests pass on both is what makes the sandbox a stand-in.

The graphs are those of tests/real/langgraph_project: `review` (draft, a review interrupt with options, publish),
`form` (a response_schema interrupt), `pair` (two interrupts at once), `ticker` (slow ticks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from runbridge.backends.langgraph import LangGraphBackend
from runbridge.core.config import Profile
from runbridge.core.errors import BackendError, GateError, NotFoundError
from runbridge.core.models import EventKind, GateAnswer, RunEvent, RunStatus, StartRequest
from runbridge.http import HttpClient, RetryPolicy, load_secret

KEY_ENV = "RUNBRIDGE_LG_TEST_KEY"


@dataclass
class LgHost:
    """A LangGraph server for the tests: where it is, the key it takes, and its own word on a thread."""

    base_url: str
    key: str
    thread: Callable[[str], dict[str, Any]]
    runs: Callable[[str], list[dict[str, Any]]]


@asynccontextmanager
async def adapter(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch, *, transport: httpx2.AsyncBaseTransport | None = None, **options: Any
) -> AsyncIterator[LangGraphBackend]:
    monkeypatch.setenv(KEY_ENV, lg.key)
    profile = Profile(
        name="lg",
        family="langgraph",
        base_url=lg.base_url,
        api_key_env=KEY_ENV,
        options={"poll_seconds": 0.2, **options},
    )
    http = None  # the adapter builds its own client, sending the key as its `auth` option says
    if transport is not None:
        http = HttpClient(
            profile,
            secret=load_secret(profile),
            secret_header="x-api-key",
            transport=transport,
            retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget=2.0),
        )
    backend = LangGraphBackend(profile, http)
    try:
        yield backend
    finally:
        await backend.aclose()


async def until(
    backend: LangGraphBackend,
    run_id: str,
    stop: Callable[[RunEvent], bool],
    *,
    cursor: str | None = None,
    within: float = 30,
) -> list[RunEvent]:
    """The run's events from `cursor` up to and including the first for which `stop` is true."""
    seen: list[RunEvent] = []
    with anyio.fail_after(within):
        async with aclosing(backend.watch(run_id, cursor=cursor)) as events:  # type: ignore[type-var]
            async for event in events:
                seen.append(event)
                if stop(event):
                    break
    return seen


def gate_opened(event: RunEvent) -> bool:
    return event.kind is EventKind.GATE_OPENED


def ended(event: RunEvent) -> bool:
    return event.terminal


def accept(**values: Any) -> GateAnswer:
    return GateAnswer(decision="accept", values=values)


pytestmark = pytest.mark.anyio


async def test_assistants_are_targets_found_by_id_or_graph_name(lg: LgHost, monkeypatch: pytest.MonkeyPatch) -> None:
    async with adapter(lg, monkeypatch) as backend:
        page = await backend.list_targets(limit=2)
        rest = await backend.list_targets(cursor=page.next_cursor, limit=10)
        by_name = await backend.describe_target("review")
        by_id = await backend.describe_target(by_name.id)
    names = {t.name for t in page.items + rest.items}
    assert names == {"review", "form", "pair", "ticker"}
    assert len(page.items) == 2
    assert page.next_cursor
    assert rest.next_cursor is None
    assert (by_name.kind, by_name.name, by_name.details["graph_id"]) == ("agent", "review", "review")
    assert by_id.id == by_name.id


async def test_a_review_run_reads_as_one_run_through_its_gate_and_resume(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(lg, monkeypatch) as backend:
        run = await backend.start_run(StartRequest(target_id="review", inputs={"topic": "owls"}, idempotency_key="k1"))
        thread_id = run.locator["thread_id"] if run.locator else ""
        before = await until(backend, run.run_id, gate_opened)
        waiting = await backend.get_run(run.run_id)
        for _ in range(50):  # the gate is announced while the server finishes the run: it waits a moment later
            if waiting.status is not RunStatus.RUNNING:
                break
            await anyio.sleep(0.1)
            waiting = await backend.get_run(run.run_id)
        gate = before[-1].gate
        assert gate is not None
        assert (gate.kind, gate.prompt) == ("approval", "Publish this draft? A short note on owls.")
        assert gate.fields[0].options == ["approve", "reject", "rework"]
        assert gate.step
        assert gate.step.name == "review"
        await backend.resolve_gate(gate, accept(choice="approve"))
        after = await until(backend, run.run_id, ended, cursor=before[-1].seq)
        done = await backend.get_run(run.run_id)
    kinds = [e.kind for e in before]
    assert kinds[0] is EventKind.RUN_STARTED
    assert EventKind.STEP_STARTED in kinds
    assert EventKind.STEP_COMPLETED in kinds
    assert any(e.kind is EventKind.MESSAGE and e.text == "Draft ready: A short note on owls." for e in before)
    assert any(e.kind is EventKind.LOG and "drafting owls" in e.text for e in before)
    assert [e.step.name for e in before if e.kind is EventKind.STEP_STARTED and e.step] == ["draft", "review"]
    assert waiting.status is RunStatus.WAITING
    assert waiting.open_gate
    assert waiting.open_gate.gate_id == gate.gate_id
    assert after[0].kind is EventKind.RUN_RESUMED
    assert after[-1].kind is EventKind.RUN_COMPLETED
    assert after[-1].data["outputs"]["published"] is True
    assert any(e.kind is EventKind.MESSAGE and e.text == "Published." for e in after)
    seqs = [int(e.seq) for e in before + after]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    assert {e.run_id for e in before + after} == {run.run_id}
    assert done.status is RunStatus.COMPLETED
    assert done.outputs["published"] is True
    server_runs = lg.runs(thread_id)
    assert len(server_runs) == 2  # the first run and its resume: one run for runbridge
    assert lg.thread(thread_id)["values"]["decision"] == "approve"


async def test_a_watch_from_a_cursor_gives_exactly_the_events_after_it(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(lg, monkeypatch) as backend:
        run = await backend.start_run(StartRequest(target_id="review", inputs={"topic": "elk"}))
        everything = await until(backend, run.run_id, gate_opened)
        middle = everything[len(everything) // 2]
        rest = await until(backend, run.run_id, gate_opened, cursor=middle.seq)
        gate = everything[-1].gate
        assert gate is not None
        await backend.resolve_gate(gate, accept(choice="reject"))
        finished = await until(backend, run.run_id, ended)  # from the very start: the whole chain again
    assert [e.seq for e in rest] == [e.seq for e in everything if int(e.seq) > int(middle.seq)]
    assert [e.seq for e in finished[: len(everything)]] == [e.seq for e in everything]
    assert finished[-1].data["outputs"]["published"] is False


async def test_a_response_schema_is_the_form_and_the_answer_is_the_object(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(lg, monkeypatch) as backend:
        run = await backend.start_run(StartRequest(target_id="form"))
        gate = (await until(backend, run.run_id, gate_opened))[-1].gate
        assert gate is not None
        fields = {f.name: f for f in gate.fields}
        answer = {"title": "Fix the roof", "priority": "high", "urgent": True}
        await backend.resolve_gate(gate, accept(**answer))
        done = (await until(backend, run.run_id, ended))[-1]
    assert gate.prompt == "Describe the ticket to file"
    assert (fields["title"].type, fields["title"].required, fields["title"].description) == (
        "text",
        True,
        "One line for the ticket",
    )
    assert (fields["priority"].type, fields["priority"].options) == ("select", ["low", "high"])
    assert (fields["urgent"].type, fields["urgent"].required) == ("boolean", False)
    assert done.data["outputs"]["ticket"] == answer


async def test_two_interrupts_at_once_are_two_gates_answered_one_by_one(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(lg, monkeypatch) as backend:
        run = await backend.start_run(StartRequest(target_id="pair"))
        seen = await until(backend, run.run_id, gate_opened)
        more = await until(backend, run.run_id, gate_opened, cursor=seen[-1].seq)
        gates = {g.step.name: g for g in (seen[-1].gate, more[-1].gate) if g and g.step}
        assert set(gates) == {"legal", "budget"}
        budget = gates["budget"]
        assert budget.kind == "custom"
        assert '"amount": 1200' in budget.prompt
        assert '"venue"' in budget.prompt
        await backend.resolve_gate(gates["legal"], accept(choice="yes"))
        await backend.resolve_gate(budget, accept(answer='{"ok": true, "cap": 1000}'))
        events = await until(backend, run.run_id, ended, cursor=more[0].seq)
    answers = events[-1].data["outputs"]["answers"]
    assert sorted(answers, key=str) == sorted([{"legal": "yes"}, {"budget": {"ok": True, "cap": 1000}}], key=str)
    assert events[-1].kind is EventKind.RUN_COMPLETED


async def test_a_resume_on_a_thread_no_longer_interrupted_is_refused_and_sends_nothing(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(lg, monkeypatch) as backend:
        run = await backend.start_run(StartRequest(target_id="review"))
        gate = (await until(backend, run.run_id, gate_opened))[-1].gate
        assert gate is not None
        await backend.resolve_gate(gate, accept(choice="approve"))
        await until(backend, run.run_id, ended)
        thread_id = run.locator["thread_id"] if run.locator else ""
        before = len(lg.runs(thread_id))
        with pytest.raises(GateError) as refused:
            await backend.resolve_gate(gate, accept(choice="reject"))
    assert refused.value.closed
    assert "no longer waits on this gate" in str(refused.value)
    assert len(lg.runs(thread_id)) == before
    assert lg.thread(thread_id)["values"]["decision"] == "approve"


async def test_cancel_stops_a_ticking_run_and_a_waiting_one(lg: LgHost, monkeypatch: pytest.MonkeyPatch) -> None:
    async with adapter(lg, monkeypatch) as backend:
        ticking = await backend.start_run(StartRequest(target_id="ticker", inputs={"ticks": 100, "delay": 0.2}))
        await until(backend, ticking.run_id, lambda e: e.kind is EventKind.LOG and "tick" in e.text)
        cancelled = await backend.cancel_run(ticking.run_id)
        tail = await until(backend, ticking.run_id, ended)
        waiting = await backend.start_run(StartRequest(target_id="review"))
        await until(backend, waiting.run_id, gate_opened)
        dropped = await backend.cancel_run(waiting.run_id)
        waiting_tail = await until(backend, waiting.run_id, ended)
    assert cancelled.status is RunStatus.CANCELLED
    assert tail[-1].kind is EventKind.RUN_CANCELLED
    assert lg.thread(ticking.locator["thread_id"] if ticking.locator else "")["values"]["count"] < 100
    assert dropped.status is RunStatus.CANCELLED
    assert waiting_tail[-1].kind is EventKind.RUN_CANCELLED


async def test_a_fork_from_a_checkpoint_runs_again_from_there_on_a_copy(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(lg, monkeypatch) as backend:
        run = await backend.start_run(StartRequest(target_id="review", inputs={"topic": "moths"}))
        before = await until(backend, run.run_id, gate_opened)
        gate = before[-1].gate
        assert gate is not None
        await backend.resolve_gate(gate, accept(choice="approve"))
        await until(backend, run.run_id, ended)
        drafted = next(e for e in before if e.kind is EventKind.STEP_COMPLETED and e.step and e.step.name == "draft")
        fork = await backend.fork_run(run.run_id, from_seq=int(drafted.seq))
        forked = await until(backend, fork.run_id, gate_opened)
        fork_gate = forked[-1].gate
        assert fork_gate is not None
        await backend.resolve_gate(fork_gate, accept(choice="reject"))
        fork_end = await until(backend, fork.run_id, ended, cursor=forked[-1].seq)
        source = await backend.get_run(run.run_id)
    assert fork.parent_run_id == run.run_id
    assert fork.run_id != run.run_id
    assert fork.locator
    assert run.locator
    assert fork.locator["thread_id"] != run.locator["thread_id"]
    assert [e.step.name for e in forked if e.kind is EventKind.STEP_STARTED and e.step] == ["review"]
    assert fork_gate.gate_id != gate.gate_id
    assert fork_end[-1].data["outputs"]["published"] is False
    assert source.outputs["published"] is True  # the source run is untouched


class _DropOnce(httpx2.AsyncBaseTransport):
    """A transport that cuts the first event stream after `after` chunks: a connection dropped mid-run."""

    def __init__(self, after: int) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.after = after
        self.dropped = 0
        self.rejoins: list[str | None] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/stream"):
            return response
        self.rejoins.append(request.headers.get("last-event-id"))
        if self.dropped:
            return response
        self.dropped += 1
        source = response.stream
        after = self.after

        class Cut(httpx2.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                count = 0
                async for chunk in source:  # type: ignore[union-attr]
                    yield chunk
                    count += 1
                    if count >= after:
                        raise httpx2.ReadError("connection dropped")

            async def aclose(self) -> None:
                await source.aclose()  # type: ignore[union-attr]

        return httpx2.Response(response.status_code, headers=response.headers, stream=Cut(), request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_dropped_stream_is_rejoined_with_last_event_id_and_loses_nothing(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    cut = _DropOnce(after=4)
    async with adapter(lg, monkeypatch) as plain, adapter(lg, monkeypatch, transport=cut) as dropping:
        run = await plain.start_run(StartRequest(target_id="ticker", inputs={"ticks": 6, "delay": 0.1}))
        plain.locate_run(run.run_id, run.locator or {})
        dropping.locate_run(run.run_id, run.locator or {})
        through_drop = await until(dropping, run.run_id, ended)
        reference = await until(plain, run.run_id, ended)
    assert cut.dropped == 1
    assert cut.rejoins[0] == "0"
    assert cut.rejoins[1] not in (None, "0")
    assert [(e.seq, e.kind, e.text) for e in through_drop] == [(e.seq, e.kind, e.text) for e in reference]
    assert sum(1 for e in reference if e.kind is EventKind.LOG) == 6


async def test_the_key_goes_as_a_bearer_token_when_the_profile_says_so(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(lg, monkeypatch, auth="bearer") as backend:
        page = await backend.list_targets()
    assert len(page.items) == 4


async def test_a_node_that_raises_fails_the_run_and_an_unknown_assistant_is_not_found(
    lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(lg, monkeypatch) as backend:
        run = await backend.start_run(StartRequest(target_id="ticker", inputs={"ticks": 2, "delay": "soon"}))
        events = await until(backend, run.run_id, ended)
        failed = await backend.get_run(run.run_id)
        with pytest.raises(NotFoundError) as unknown:
            await backend.describe_target("no-such-graph")
        with pytest.raises(BackendError) as refused:
            await backend.start_run(StartRequest(target_id="no-such-graph"))
    assert events[-1].kind is EventKind.RUN_FAILED
    assert events[-1].data["error"]
    assert failed.status is RunStatus.FAILED
    assert "no-such-graph" in str(unknown.value)
    assert refused.value.status in (404, 422)
    assert lg.key not in str(refused.value)
