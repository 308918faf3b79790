"""runs_events on an OpenWOP host with the poll endpoint reads a page in one request, without opening the event
stream: a finished run's whole log (ended), the rest after a cursor, and for a run waiting at its gate an empty page
that keeps its cursor, at once rather than after a quiet spell of the stream."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

POLL = "GET /v1/runs/{run_id}/events/poll"


def _counts(sandbox: SandboxServer) -> tuple[int, int]:
    stats = sandbox.stats()
    return stats["requests"].get(POLL, 0), stats["stream_connections"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_runs_events_pages_a_run_in_one_request_each_without_the_stream(
    mode: str, connect: Any, sandbox: SandboxServer, transcript: Any
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode) as client:
            done = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
            polls, streams = _counts(sandbox)
            whole = await transcript.ok(client, "runs_events", {"run_id": done["run_id"]})
            first = await transcript.ok(client, "runs_events", {"run_id": done["run_id"], "limit": 3})
            rest = await transcript.ok(
                client, "runs_events", {"run_id": done["run_id"], "cursor": first["next_cursor"]}
            )
            after_polls, after_streams = _counts(sandbox)
    assert (after_polls - polls, after_streams - streams) == (3, 0), "one poll per page, and no stream"
    assert whole["ended"] is True
    assert "next_cursor" not in whole
    assert whole["events"][-1]["type"] == "run.completed"
    assert len(first["events"]) == 3
    assert first["ended"] is False
    assert [e["seq"] for e in first["events"] + rest["events"]] == [e["seq"] for e in whole["events"]]
    assert rest["ended"] is True


async def test_runs_events_on_a_run_waiting_at_its_gate_gives_an_empty_page_that_keeps_the_cursor(
    connect: Any, sandbox: SandboxServer, transcript: Any
) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            waiting = await transcript.ok(client, "runs_start", {"target_id": "approval-demo"})
            run_id = waiting["run_id"]
            history = await transcript.ok(client, "runs_events", {"run_id": run_id})
            polls, streams = _counts(sandbox)
            quiet = await transcript.ok(client, "runs_events", {"run_id": run_id, "cursor": history["next_cursor"]})
            after_polls, after_streams = _counts(sandbox)
            await transcript.ok(client, "runs_cancel", {"run_id": run_id})
    assert history["ended"] is False
    assert any(e["kind"] == "gate.opened" for e in history["events"])
    assert quiet["events"] == []
    assert quiet["ended"] is False
    assert quiet["next_cursor"] == history["next_cursor"]
    assert (after_polls - polls, after_streams - streams) == (1, 0)
