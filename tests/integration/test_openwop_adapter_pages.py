"""A page of a run's past events in one request (`event_page`, the poll endpoint): the same events as the stream,
after any cursor, with whether the run's log is complete; None on a host without the poll, whose events are then
read from the stream; an unknown run is not found."""

from __future__ import annotations

import pytest
from openwop_harness import Connect, MakeSandbox, collect, is_gate, start

from runbridge.core.errors import NotFoundError
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

POLL = "GET /v1/runs/{run_id}/events/poll"


async def test_a_page_holds_the_events_the_stream_gives_after_a_cursor_and_says_when_the_log_is_complete(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "long-demo")
    streamed = await collect(backend, run.run_id)
    whole = await backend.event_page(run.run_id)
    assert whole is not None
    assert [(e.seq, e.raw_type, e.kind) for e in whole.events] == [(e.seq, e.raw_type, e.kind) for e in streamed.events]
    assert whole.complete
    middle = streamed.events[10].seq
    rest = await backend.event_page(run.run_id, cursor=middle)
    assert rest is not None
    assert [e.seq for e in rest.events] == [e.seq for e in streamed.events[11:]]
    at_end = await backend.event_page(run.run_id, cursor=streamed.last.seq)
    assert at_end is not None
    assert at_end.events == []
    assert at_end.complete


async def test_a_run_waiting_at_its_gate_gives_the_gate_once_and_then_an_empty_incomplete_page(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    page = await backend.event_page(run.run_id)
    assert page is not None
    assert not page.complete
    (gate,) = [e.gate for e in page.events if is_gate(e)]
    assert gate is not None
    assert gate.prompt
    later = await backend.event_page(run.run_id, cursor=page.events[-1].seq)
    assert later is not None
    assert later.events == []
    assert not later.complete
    await backend.cancel_run(run.run_id)


async def test_a_host_without_the_poll_gives_no_page_and_is_not_asked_again(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"event_poll": False})
    backend = connect(sandbox)
    run = await start(backend, "quick-demo")
    assert await backend.event_page(run.run_id) is None
    assert await backend.event_page(run.run_id) is None
    assert sandbox.stats()["requests"].get(POLL, 0) == 0, "discovery says eventPoll: false, so it is not tried"


async def test_an_unknown_run_is_not_found(sandbox: SandboxServer, connect: Connect) -> None:
    with pytest.raises(NotFoundError, match="run_does_not_exist"):
        await connect(sandbox).event_page("run_does_not_exist")
