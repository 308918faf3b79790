"""Long runs through the MCP surface: readable monotonic progress, the hybrid wait's handle, and cancelled calls
that stop the watching but never the run."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import anyio
import pytest

from runbridge.core import Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
LONG_STEPS = 55


async def _event_count(transcript: Any, client: Any, run_id: str) -> int:
    """How many events the finished run has, read page by page through runs_events."""
    seqs: list[str] = []
    cursor: str | None = None
    with anyio.fail_after(20):
        while True:
            args: dict[str, Any] = {"run_id": run_id, "limit": 500}
            if cursor is not None:
                args["cursor"] = cursor
            page = await transcript.ok(client, "runs_events", args)
            seqs += [e["seq"] for e in page["events"]]
            if page["ended"]:
                break
            cursor = page.get("next_cursor")
    assert len(seqs) == len(set(seqs))
    return len(seqs)


async def _run_to_the_end(sandbox: SandboxServer, run_id: str) -> None:
    """Block (in a worker thread) until the backend run has ended, without anyone watching it through runbridge."""

    async def drain() -> None:
        async for _ in sandbox.engine.events_after(run_id):
            pass

    await anyio.to_thread.run_sync(sandbox.call, drain)


@pytest.mark.parametrize("mode", ERAS)
async def test_a_55_step_run_reports_every_event_as_increasing_progress_toward_the_step_total(
    mode: str, connect: Any, transcript: Any
) -> None:
    progress = transcript.progress()
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:  # `settings` sends every event (progress_interval_seconds=0)
            report = await transcript.ok(client, "runs_start", {"target_id": "long-demo"}, progress_callback=progress)
            events = await _event_count(transcript, client, report["run_id"])
    assert report["status"] == "completed"
    assert report["events_seen"] == events
    updates = progress.updates
    assert len(updates) >= events, "one notification per event (nothing coalesced at interval 0)"
    values = [p for p, _, _ in updates]
    assert all(a < b for a, b in pairwise(values)), "progress strictly increases"
    totals = [t for _, t, _ in updates]
    known = next(i for i, t in enumerate(totals) if t is not None)
    assert known <= 1, "the total is known from the first step on"
    assert set(totals[known:]) == {float(LONG_STEPS)}
    assert all(p <= LONG_STEPS for p in values), "progress never passes the total"
    assert values[-1] == LONG_STEPS, "the final notification lands exactly on the total"
    assert updates[-1][2] == "run completed"
    messages = [m or "" for _, _, m in updates]
    step_12 = [m for m in messages if m.startswith("step 12/55 Item 12: ")]
    assert step_12 == [
        "step 12/55 Item 12: started",
        "step 12/55 Item 12: sandbox-1: 70 tokens",
        "step 12/55 Item 12: done",
    ]
    assert all(re.fullmatch(r"step (\d+)/55 Item \1: .+", m) for m in messages[1:-1]), messages[:5]


async def test_with_the_default_interval_a_fast_run_is_coalesced_and_ends_on_its_terminal_event(
    connect: Any, transcript: Any, settings: Settings
) -> None:
    coalescing = settings.model_copy(update={"progress_interval_seconds": Settings().progress_interval_seconds})
    assert coalescing.progress_interval_seconds > 0
    progress = transcript.progress()
    with anyio.fail_after(20):
        async with connect(mode="legacy", server_settings=coalescing) as client:
            report = await transcript.ok(client, "runs_start", {"target_id": "long-demo"}, progress_callback=progress)
            events = await _event_count(transcript, client, report["run_id"])
    assert report["status"] == "completed"
    assert report["events_seen"] == events > 150
    updates = progress.updates
    assert 2 <= len(updates) < events / 2, f"{len(updates)} notifications for {events} events"
    assert all(a < b for (a, _, _), (b, _, _) in pairwise(updates))
    assert updates[-1] == (float(LONG_STEPS), float(LONG_STEPS), "run completed")


@pytest.mark.parametrize("mode", ERAS)
async def test_a_zero_wait_returns_a_handle_and_runs_watch_finishes_the_run(
    mode: str, connect: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:
            before = sandbox.stats()["runs_created"]
            handle = await transcript.ok(client, "runs_start", {"target_id": "quick-demo", "wait_seconds": 0})
            done = await transcript.ok(client, "runs_watch", {"run_id": handle["run_id"]})
            events = await _event_count(transcript, client, handle["run_id"])
    assert handle["done"] is False
    assert handle["status"] == "running"
    assert "runs_watch" in handle["next"]
    assert handle["run_id"] in handle["next"]
    assert done["done"] is True
    assert done["status"] == "completed"
    assert done["outputs"]["result"] == "The answer is 42."
    assert handle["events_seen"] + done["events_seen"] == events
    assert sandbox.stats()["runs_created"] == before + 1, "watching never starts another run"


async def test_a_short_wait_on_a_slow_run_hands_back_a_cursor_and_runs_watch_reports_only_new_events(
    connect: Any, transcript: Any, slow_settings: Settings
) -> None:
    first_progress, second_progress = transcript.progress(), transcript.progress()
    with anyio.fail_after(20):
        async with connect(mode="legacy", server_settings=slow_settings) as client:
            handle = await transcript.ok(
                client,
                "runs_start",
                # Half the run (1.1 s): long enough to see its first events on a loaded machine, never its end.
                {"target_id": "long-demo", "wait_seconds": 0.6},
                progress_callback=first_progress,
            )
            done = await transcript.ok(
                client, "runs_watch", {"run_id": handle["run_id"]}, progress_callback=second_progress
            )
            events = await _event_count(transcript, client, handle["run_id"])
    assert handle["done"] is False
    assert handle["status"] == "running"
    assert "runs_watch" in handle["next"]
    assert handle["events_seen"] > 0
    assert handle["cursor"] == str(handle["events_seen"] - 1)
    assert handle["usage"]["total_tokens"] > 0
    assert done["done"] is True
    assert done["status"] == "completed"
    assert handle["events_seen"] + done["events_seen"] == events, "nothing repeated, nothing lost"
    assert done["usage"]["total_tokens"] == 70 * LONG_STEPS, "usage adds up across both calls"
    first_step = int(re.match(r"step (\d+)/", first_progress.updates[-1][2]).group(1))  # type: ignore[union-attr]
    resumed_at = int(re.match(r"step (\d+)/", second_progress.updates[0][2]).group(1))  # type: ignore[union-attr]
    assert resumed_at >= first_step, "runs_watch picks up where runs_start stopped"


@pytest.mark.parametrize("mode", ERAS)
async def test_cancelling_a_tool_call_stops_the_watching_but_never_the_run(
    mode: str, connect: Any, transcript: Any, slow_settings: Settings, slow_sandbox: SandboxServer
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode, server_settings=slow_settings) as client:
            handle = await transcript.ok(client, "runs_start", {"target_id": "long-demo", "wait_seconds": 0.1})
            run_id = handle["run_id"]
            cancels = slow_sandbox.stats()["cancels"]
            with anyio.CancelScope() as scope:

                async def abandon(progress: float, total: float | None, message: str | None) -> None:
                    transcript.record(message)
                    scope.cancel()  # the host gives up on the call as soon as it sees it following the run

                await client.call_tool("runs_watch", {"run_id": run_id}, progress_callback=abandon)
            assert scope.cancelled_caught, "the watch was still following when abandoned"
            during = await transcript.ok(client, "runs_get", {"run_id": run_id})
            await _run_to_the_end(slow_sandbox, run_id)
            after = await transcript.ok(client, "runs_get", {"run_id": run_id})
            events = await _event_count(transcript, client, run_id)
            finished = await transcript.ok(client, "runs_watch", {"run_id": run_id})
    assert during["run"]["status"] in ("running", "completed")
    assert slow_sandbox.stats()["cancels"] == cancels, "the backend run was never cancelled"
    assert after["run"]["status"] == "completed"
    stopped_at = int(after["cursor"])
    assert stopped_at < events - 1, "nobody kept watching after the call was cancelled"
    assert finished["status"] == "completed"
    assert finished["events_seen"] == events - 1 - stopped_at, "runs_watch continues where the cancelled call was"
