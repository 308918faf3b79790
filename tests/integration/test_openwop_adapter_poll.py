"""Watching a run on a host, or through a proxy, that will not stream its events: the adapter falls back to the poll
endpoint and still delivers every event exactly once, in order, gates included."""

from __future__ import annotations

from dataclasses import replace

import anyio
import pytest
from openwop_harness import (
    DEADLINE,
    Connect,
    MakeSandbox,
    collect,
    is_gate,
    logged_seqs,
    start,
    strictly_increasing,
)

from runbridge.backends.openwop import OpenWopBackend
from runbridge.core.errors import NotFoundError, UnsupportedError
from runbridge.core.models import EventKind, GateAnswer, RunEvent
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

EVENTS = "GET /v1/runs/{run_id}/events"
POLL = "GET /v1/runs/{run_id}/events/poll"
REFUSALS = ["404", "405", "406", "html"]


async def _expected(backend: OpenWopBackend, workflow: str) -> list[tuple[str, int]]:
    run = await start(backend, workflow)
    watched = await collect(backend, run.run_id)
    return list(zip(watched.types, watched.seqs, strict=True))


@pytest.mark.parametrize("refusal", REFUSALS)
async def test_a_host_that_will_not_stream_delivers_every_event_once_in_order_through_the_poll(
    refusal: str, sandbox: SandboxServer, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    expected = await _expected(connect(sandbox), "long-demo")
    refusing = make_sandbox(variant={"events_stream": refusal})
    backend = connect(refusing)
    run = await start(backend, "long-demo")
    watched = await collect(backend, run.run_id)
    assert list(zip(watched.types, watched.seqs, strict=True)) == expected
    assert watched.last.raw_type == "run.completed"
    stats = refusing.stats()
    assert stats["requests"][EVENTS] == 1, "the stream was tried once"
    assert stats["requests"][POLL] >= 1
    assert stats["stream_connections"] == 0


async def test_a_gate_opens_once_and_is_answered_while_polling(make_sandbox: MakeSandbox, connect: Connect) -> None:
    sandbox = make_sandbox(variant={"events_stream": "406"})
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")

    async def accept(event: RunEvent) -> None:
        if event.gate is not None:
            await backend.resolve_gate(event.gate, GateAnswer(decision="accept", values={"decision": "accept"}))

    watched = await collect(backend, run.run_id, on_event=accept)
    assert len(watched.of_kind(EventKind.GATE_OPENED)) == 1
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert strictly_increasing(watched.seqs)
    assert watched.seqs == await logged_seqs(backend, run.run_id)
    assert sandbox.stats()["resolves"] == 1


async def test_once_the_poll_worked_later_watches_do_not_try_the_stream_again(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"events_stream": "405"})
    backend = connect(sandbox)
    for _ in range(3):
        run = await start(backend, "quick-demo")
        assert (await collect(backend, run.run_id)).last.kind is EventKind.RUN_COMPLETED
    assert sandbox.stats()["requests"][EVENTS] == 1


async def test_a_cursor_resumes_the_poll_right_after_that_event_from_another_adapter(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"events_stream": "html"})
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    head = await collect(backend, run.run_id, until=lambda e: e.raw_type == "node.completed")
    tail = await collect(connect(sandbox), run.run_id, cursor=head.last.seq, until=is_gate)
    assert tail.events[0].seq == str(int(head.last.seq) + 1)
    assert strictly_increasing(head.seqs + tail.seqs)
    assert tail.last.gate is not None
    with anyio.fail_after(DEADLINE):
        await backend.cancel_run(run.run_id)


async def test_polling_a_finished_run_from_its_last_event_ends_with_its_final_status(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"events_stream": "404"})
    backend = connect(sandbox)
    run = await start(backend, "failing-demo")
    first = await collect(backend, run.run_id)
    again = await collect(backend, run.run_id, cursor=first.last.seq)
    assert [e.kind for e in again.events] == [EventKind.RUN_FAILED]
    assert again.last.raw_type == "state.snapshot"
    assert again.last.seq == first.last.seq


async def test_an_unknown_run_on_a_host_without_a_stream_is_not_found_with_the_credentials_hint(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    backend = connect(make_sandbox(variant={"events_stream": "404"}))
    with pytest.raises(NotFoundError) as caught:
        await collect(backend, "run_does_not_exist")
    text = str(caught.value)
    assert "run_does_not_exist" in text
    assert "credentials may be wrong" in text
    assert ".." not in text


async def test_a_stream_that_breaks_and_cannot_be_reopened_continues_on_the_poll_without_loss_or_repeat(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    # A server of its own (the variant changes mid-test): the stream works, drops, and then a proxy refuses it.
    sandbox = make_sandbox(keepalive_seconds=0.049)
    expected = await _expected(connect(sandbox), "long-demo")
    sandbox.context.stats.reset()
    backend = connect(sandbox)
    run = await start(backend, "long-demo", _sandbox={"drop_after": [6]})
    state = sandbox.apps["openwop"].state.openwop  # type: ignore[attr-defined]
    original = state.variant

    def refuse_streams() -> None:
        state.variant = replace(original, events_stream="406")

    async def on_event(event: RunEvent) -> None:
        if event.seq == "2":
            sandbox.call(refuse_streams)

    try:
        watched = await collect(backend, run.run_id, on_event=on_event)
    finally:
        sandbox.call(lambda: setattr(state, "variant", original))
    assert list(zip(watched.types, watched.seqs, strict=True)) == expected
    stats = sandbox.stats()
    assert stats["stream_connections"] == 1
    assert stats["requests"][EVENTS] == 2, "the first stream, then one reconnect that was refused"
    assert stats["requests"][POLL] >= 1


async def test_a_host_with_neither_a_stream_nor_a_poll_says_it_cannot_be_followed(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"events_stream": "404", "event_poll": False})
    backend = connect(sandbox)
    run = await start(backend, "quick-demo")
    with pytest.raises(UnsupportedError) as caught:
        await collect(backend, run.run_id)
    assert "neither as a stream nor through the poll endpoint" in str(caught.value)
    assert "runs_get" in str(caught.value)
    with pytest.raises(NotFoundError):
        await collect(backend, "run_does_not_exist")
