"""Following a run across a misbehaving event stream: drops, slow frames, silences, malformed and oversized frames.

The sandbox breaks the stream for real (it cuts the TCP connection mid-run, sleeps, sends keep-alives only, or
sends a frame that cannot be parsed); the adapter must still deliver every event exactly once, in order.
"""

from __future__ import annotations

import logging
import time

import anyio
import pytest
from openwop_harness import Connect, MakeSandbox, closed_port, collect, is_gate, logged_seqs, start, strictly_increasing

from runbridge.backends.openwop import OpenWopBackend
from runbridge.core.errors import StreamError, UnreachableError
from runbridge.core.models import EventKind, GateAnswer, RunEvent, RunStatus
from runbridge.sandbox import VARIANTS, SandboxServer

pytestmark = pytest.mark.anyio


async def _undisturbed(backend: OpenWopBackend, workflow: str) -> list[tuple[str, int]]:
    """(type, sequence) of every event of a fresh run of `workflow` on an untouched stream."""
    run = await start(backend, workflow)
    watched = await collect(backend, run.run_id)
    return list(zip(watched.types, watched.seqs, strict=True))


# -- 5. exactly once across drops -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "drops",
    [[1], [3], [7], [12], [1, 3, 7, 12], [2, 2, 2, 2, 2, 2]],
    ids=["after-1", "after-3", "after-7", "after-12", "four-drops", "six-drops"],
)
async def test_a_stream_dropped_mid_run_delivers_every_event_exactly_once_in_order(
    drops: list[int], sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    expected = await _undisturbed(backend, "long-demo")
    sandbox.context.stats.reset()

    run = await start(backend, "long-demo", _sandbox={"drop_after": drops})
    watched = await collect(backend, run.run_id)

    assert list(zip(watched.types, watched.seqs, strict=True)) == expected
    assert watched.seqs == await logged_seqs(backend, run.run_id)
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert watched.last.raw_type == "run.completed", "the real terminal event, not one made up from the snapshot"
    stats = sandbox.stats()
    assert stats["stream_drops"] == len(drops)
    assert stats["stream_connections"] == len(drops) + 1


@pytest.mark.parametrize("variant", sorted(VARIANTS))
async def test_drops_before_and_after_a_gate_lose_and_repeat_nothing_on_every_host(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=variant)
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    sandbox.faults.for_run(run.run_id, drop_after=[5, 9, 3])

    async def accept(event: RunEvent) -> None:
        if event.gate is not None:
            await backend.resolve_gate(event.gate, GateAnswer(decision="accept", values={"decision": "accept"}))

    watched = await collect(backend, run.run_id, on_event=accept)
    assert strictly_increasing(watched.seqs)
    assert watched.seqs == await logged_seqs(backend, run.run_id)
    assert len(watched.of_kind(EventKind.GATE_OPENED)) == 1, "a replayed gate announcement is not a second gate"
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert sandbox.stats()["stream_drops"] == 3
    assert sandbox.stats()["resolves"] == 1


async def test_a_drop_right_before_the_terminal_event_still_ends_the_watch_with_it(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    expected = await _undisturbed(backend, "quick-demo")
    sandbox.context.stats.reset()

    run = await start(backend, "quick-demo", _sandbox={"drop_after": [len(expected) - 1]})
    watched = await collect(backend, run.run_id)

    assert list(zip(watched.types, watched.seqs, strict=True)) == expected
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert watched.last.data["outputs"]["result"] == "The answer is 42."
    stats = sandbox.stats()
    assert stats["stream_drops"] == 1
    assert stats["requests"]["GET /v1/runs/{run_id}"] == 1, "the reconnect checked the run's snapshot"


async def test_a_host_that_serves_nothing_after_the_run_ended_ends_the_watch_from_the_snapshot(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    expected = await _undisturbed(backend, "quick-demo")
    sandbox.context.stats.reset()

    # The first connection stops one event short of the end; every later one is cut before its first frame.
    run = await start(backend, "quick-demo", _sandbox={"drop_after": [len(expected) - 1, 0, 0, 0, 0]})
    watched = await collect(backend, run.run_id)

    assert [e.raw_type for e in watched.events[:-1]] == [t for t, _ in expected[:-1]]
    closing = watched.last
    assert closing.kind is EventKind.RUN_COMPLETED
    assert closing.raw_type == "state.snapshot"
    assert closing.data["outputs"]["result"] == "The answer is 42."
    # A connection cut off may just be the network: three tries past the end, then the snapshot decides.
    assert sandbox.stats()["stream_connections"] == 4


async def test_watching_a_finished_run_from_its_last_event_ends_at_once_with_its_final_status(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "failing-demo")
    first = await collect(backend, run.run_id)
    again = await collect(backend, run.run_id, cursor=first.last.seq)
    assert [e.kind for e in again.events] == [EventKind.RUN_FAILED]
    assert again.last.raw_type == "state.snapshot"


async def test_a_cursor_resumes_the_watch_after_that_event_even_from_another_adapter(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    head = await collect(backend, run.run_id, until=lambda e: e.raw_type == "node.completed")
    restarted = connect(sandbox)  # knows nothing of the run: no eventsUrl, no workflow
    tail = await collect(restarted, run.run_id, cursor=head.last.seq, until=is_gate)
    assert strictly_increasing(head.seqs + tail.seqs)
    assert tail.events[0].seq == str(int(head.last.seq) + 1)
    assert tail.last.gate is not None
    with anyio.fail_after(10):
        await backend.cancel_run(run.run_id)


# -- 6. slow frames, silences, malformed and oversized frames -------------------------------------------------------


async def test_slow_frames_arrive_complete_on_one_connection(sandbox: SandboxServer, connect: Connect) -> None:
    backend = connect(sandbox)
    expected = await _undisturbed(backend, "quick-demo")
    sandbox.context.stats.reset()
    run = await start(backend, "quick-demo", _sandbox={"slow_frame_seconds": 0.03})
    started = anyio.current_time()
    watched = await collect(backend, run.run_id)
    assert anyio.current_time() - started >= 0.03 * len(expected)
    assert list(zip(watched.types, watched.seqs, strict=True)) == expected
    assert sandbox.stats()["stream_connections"] == 1


async def test_a_stretch_of_keep_alives_longer_than_the_read_timeout_does_not_break_the_stream(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox, stream_read_timeout=0.4)
    expected = await _undisturbed(backend, "quick-demo")
    sandbox.context.stats.reset()
    run = await start(backend, "quick-demo", _sandbox={"quiet_at": 4, "quiet_seconds": 1.0})
    started = anyio.current_time()
    watched = await collect(backend, run.run_id)
    assert anyio.current_time() - started >= 1.0
    assert list(zip(watched.types, watched.seqs, strict=True)) == expected
    stats = sandbox.stats()
    assert stats["stream_connections"] == 1, "keep-alives count as data: no timeout, no reconnect"
    assert stats["stream_drops"] == 0


async def test_a_stream_silent_past_the_read_timeout_is_reopened_without_losing_or_repeating_events(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(keepalive_seconds=5.0)  # no keep-alive arrives in time to save the connection
    backend = connect(sandbox, stream_read_timeout=0.3)
    expected = await _undisturbed(backend, "quick-demo")
    sandbox.context.stats.reset()
    run = await start(backend, "quick-demo", _sandbox={"quiet_at": 5, "quiet_seconds": 0.8})
    watched = await collect(backend, run.run_id)
    assert list(zip(watched.types, watched.seqs, strict=True)) == expected
    assert sandbox.stats()["stream_connections"] == 2


async def test_a_malformed_frame_is_skipped_and_the_rest_of_the_run_is_delivered(
    sandbox: SandboxServer, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    backend = connect(sandbox)
    expected = await _undisturbed(backend, "quick-demo")
    run = await start(backend, "quick-demo", _sandbox={"malformed_at": 3})
    with caplog.at_level(logging.WARNING, logger="runbridge.openwop"):
        watched = await collect(backend, run.run_id)
    assert list(zip(watched.types, watched.seqs, strict=True)) == expected
    assert any("malformed" in r.getMessage() for r in caplog.records)


async def test_an_oversized_frame_ends_the_watch_with_a_clear_stream_error(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "quick-demo", _sandbox={"oversized_at": 3, "oversized_bytes": 2_000_000})
    delivered: list[RunEvent] = []

    async def keep(event: RunEvent) -> None:
        delivered.append(event)

    with pytest.raises(StreamError) as caught:
        await collect(backend, run.run_id, on_event=keep)
    message = str(caught.value)
    assert "exceeded the 1048576 byte limit" in message
    assert [int(e.seq) for e in delivered] == [0, 1, 2], "what came before the oversized frame was delivered"
    with anyio.fail_after(10):
        assert (await backend.get_run(run.run_id)).status is RunStatus.COMPLETED


async def test_watching_on_a_closed_port_fails_at_once_naming_the_base_url(connect: Connect) -> None:
    """A refused connection ends the watch as fast as a plain request (no seconds of reconnecting)."""
    base_url = f"http://127.0.0.1:{closed_port()}"
    backend = connect(base_url)
    started = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        await collect(backend, "run_x")
    assert time.monotonic() - started < 1.0
    assert base_url in str(caught.value)
    assert caught.value.__cause__ is None
