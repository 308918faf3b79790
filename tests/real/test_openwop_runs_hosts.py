"""Runs on the three OpenWOP reference hosts (SQLite, Python, in-memory), driven through runbridge over stdio by the
official MCP client: to completion with progress, a failing run, cancel mid-run, `runs_events` paging, `runs_list`,
`runs_fork` (none of these hosts forks), a paused run, and workflows on a host that cannot describe them.

What the host itself says decides each test: the run's status and error on `GET /v1/runs/{id}`, and its own event
list (`GET /v1/runs/{id}/events/poll`).
"""

from __future__ import annotations

import re
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from openwop_host_api import (
    CANCELLABLE,
    DELAY,
    FAILURE,
    MULTI,
    NOOP,
    RUN_WORKFLOWS,
    host_call,
    host_events,
    host_run,
    wait_for_status,
)
from real_backends import HostProcess
from real_client import Runbridge, call, error_text, openwop_profile, structured
from tests.mcp_people import Progress

NEEDS_OPENWOP_HOSTS = True  # starts or picks a host by name (see tests/real/conftest.py)
pytestmark = pytest.mark.anyio

HOSTS = ["openwop_sqlite", "openwop_python", "openwop_inmemory"]
# A backend event name left raw in a message a person reads (`memory.written`, `node.completed`).
RAW_EVENT_NAME = re.compile(r"\b(?:run|node|memory|interrupt|state|log|agent)\.[a-z][\w.-]*")


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest) -> HostProcess:
    return request.getfixturevalue(request.param)


def _runbridge(workdir: Path, host: HostProcess, key: str) -> Runbridge:
    return Runbridge(workdir, openwop_profile(host.base_url, RUN_WORKFLOWS), key)


def _check_progress(progress: Progress, *, ended: bool) -> None:
    """Strictly increasing, never above the total it is sent with, ending on it; every message in words."""
    values = [value for value, _, _ in progress.updates]
    assert values, "no progress at all"
    assert all(a < b for a, b in pairwise(values)), values
    for value, total, message in progress.updates:
        assert total is None or value <= total, progress.updates
        assert message
        assert not RAW_EVENT_NAME.search(message), message
    last_value, last_total, _ = progress.updates[-1]
    if ended and last_total is not None:
        assert last_value == last_total, progress.updates


async def test_a_run_completes_fails_and_is_cancelled_as_the_host_says(
    host: HostProcess, real_key: str, workdir: Path
) -> None:
    rb = _runbridge(workdir, host, real_key)
    described = host.name != "openwop-in-memory"  # the in-memory host has no describe route: no labels, no total
    async with rb.connect("legacy") as client:
        progress = Progress()
        done = structured(await call(client, "runs_start", {"target_id": MULTI}, progress_callback=progress))
        assert (done["status"], done["done"]) == ("completed", True)
        assert host_run(host, real_key, done["run_id"])["status"] == "completed"
        _check_progress(progress, ended=True)
        if described:
            assert all(total == 3.0 for _, total, _ in progress.updates), progress.updates
            assert "step 2/3 B: started" in progress.messages, progress.messages
        else:
            assert "step 2 b: started" in progress.messages, progress.messages
        # None of these hosts forks: `next` does not send the model there, and asking anyway is refused clearly.
        assert "runs_fork" not in done["next"]
        refused = error_text(await call(client, "runs_fork", {"run_id": done["run_id"]}))
        assert "does not support forking" in refused, refused
        assert "unchanged" in refused, refused
        assert host_run(host, real_key, done["run_id"])["status"] == "completed"
        assert "runs_fork" not in structured(await call(client, "runs_get", {"run_id": done["run_id"]}))["next"]

        progress = Progress()
        failed = structured(await call(client, "runs_start", {"target_id": FAILURE}, progress_callback=progress))
        on_host = host_run(host, real_key, failed["run_id"])
        assert (failed["status"], on_host["status"]) == ("failed", "failed")
        assert failed["error"] == on_host["error"]["message"]
        assert failed["error_code"] == on_host["error"]["code"]
        _check_progress(progress, ended=True)

        started = structured(
            await call(
                client, "runs_start", {"target_id": CANCELLABLE, "inputs": {"delayMs": 30000}, "wait_seconds": 1}
            )
        )
        assert started["status"] == "running", started
        assert "runs_cancel" in started["next"], started
        cancelled = structured(await call(client, "runs_cancel", {"run_id": started["run_id"]}))
        assert (cancelled["status"], cancelled["note"]) == ("cancelled", "The run is cancelled."), cancelled
        assert host_run(host, real_key, started["run_id"])["status"] == "cancelled"
        again = structured(await call(client, "runs_cancel", {"run_id": started["run_id"]}))
        assert "already" in again["note"], again

        listed = structured(await call(client, "runs_list", {}))["runs"]
        mine = {r["run_id"]: r["status"] for r in listed}
        for run_id in (done["run_id"], failed["run_id"], started["run_id"]):
            assert mine[run_id] == host_run(host, real_key, run_id)["status"]


async def _pages(client: Any, run_id: str, limit: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        args: dict[str, Any] = {"run_id": run_id, "limit": limit}
        if cursor:
            args["cursor"] = cursor
        page = structured(await call(client, "runs_events", args))
        assert len(page["events"]) <= limit
        events += page["events"]
        cursor = page.get("next_cursor")
        if page["ended"]:
            assert cursor is None
            return events
        assert cursor, page
    raise AssertionError("runs_events never reached the run's end")


async def test_runs_events_pages_every_event_once_in_order_as_the_host_lists_them(
    host: HostProcess, real_key: str, workdir: Path
) -> None:
    rb = _runbridge(workdir, host, real_key)
    async with rb.connect("no-elicitation") as client:
        run_id = structured(await call(client, "runs_start", {"target_id": MULTI}))["run_id"]
        expected = host_events(host, real_key, run_id)
        for limit in (1, 3, 50):
            events = await _pages(client, run_id, limit)
            assert [(int(e["seq"]), e["type"]) for e in events] == expected, limit
            assert not any(RAW_EVENT_NAME.search(e["text"]) for e in events), [e["text"] for e in events]
        steps = [e.get("step") for e in events if e["type"].startswith("node.")]
        assert steps == (["A", "A", "B", "B", "C", "C"] if host.name != "openwop-in-memory" else list("aabbcc"))


async def test_a_paused_run_reads_paused_at_once_and_goes_on_once_resumed(
    openwop_python: HostProcess, real_key: str, workdir: Path
) -> None:
    """The Python host's run-level pause (`POST /v1/runs/{id}:pause`): runs_watch returns at once instead of waiting
    out its time, runs_get says paused, and once the host resumes it the run is followed to its end."""
    host = openwop_python
    rb = _runbridge(workdir, host, real_key)
    async with rb.connect("legacy") as client:
        started = structured(
            await call(client, "runs_start", {"target_id": DELAY, "inputs": {"delayMs": 20000}, "wait_seconds": 0.5})
        )
        run_id = started["run_id"]
        assert host_call(host, real_key, "POST", f"/v1/runs/{run_id}:pause", {})[0] == 202
        assert wait_for_status(host, real_key, run_id, {"paused"}) == "paused"

        for _ in range(2):  # the pause event in the stream, then the pause already recorded
            began = time.monotonic()
            watched = structured(await call(client, "runs_watch", {"run_id": run_id, "wait_seconds": 30}))
            assert time.monotonic() - began < 10, "runs_watch waited on a paused run"
            assert (watched["status"], watched["done"]) == ("paused", False), watched
            assert "paused" in watched["note"], watched
            assert "paused" in watched["next"], watched
        (workdir / "elsewhere").mkdir()
        other = _runbridge(workdir / "elsewhere", host, real_key)  # a runbridge that never saw the run
        async with other.connect("no-elicitation") as stranger:
            began = time.monotonic()
            seen = structured(await call(stranger, "runs_watch", {"run_id": run_id, "wait_seconds": 30}))
            assert time.monotonic() - began < 10, "runs_watch waited on a paused run it had not seen"
            assert seen["status"] == "paused", seen
        snapshot = structured(await call(client, "runs_get", {"run_id": run_id}))
        assert snapshot["run"]["status"] == "paused", snapshot
        assert "paused" in snapshot["next"], snapshot
        assert host_run(host, real_key, run_id)["status"] == "paused"

        assert host_call(host, real_key, "POST", f"/v1/runs/{run_id}:resume", {})[0] == 202
        ended = structured(await call(client, "runs_watch", {"run_id": run_id, "wait_seconds": 30}, within=60))
        assert ended["status"] == host_run(host, real_key, run_id)["status"] == "completed", ended

        # Cancelling a paused run: the host cancels it, and runbridge says what the host then says.
        paused = structured(
            await call(client, "runs_start", {"target_id": DELAY, "inputs": {"delayMs": 20000}, "wait_seconds": 0.5})
        )
        assert host_call(host, real_key, "POST", f"/v1/runs/{paused['run_id']}:pause", {})[0] == 202
        assert wait_for_status(host, real_key, paused["run_id"], {"paused"}) == "paused"
        cancelled = structured(await call(client, "runs_cancel", {"run_id": paused["run_id"]}))
        assert cancelled["status"] == host_run(host, real_key, paused["run_id"])["status"] == "cancelled"


async def test_workflows_a_host_cannot_describe_are_listed_runnable_and_run(
    openwop_inmemory: HostProcess, real_key: str, workdir: Path
) -> None:
    """The in-memory host has no `GET /v1/workflows/{id}` (404 `not_found`, "no route"), yet runs the ids."""
    host = openwop_inmemory
    assert host_call(host, real_key, "GET", f"/v1/workflows/{NOOP}")[0] == 404
    rb = _runbridge(workdir, host, real_key)
    async with rb.connect("legacy") as client:
        targets = structured(await call(client, "targets_list", {}))["targets"]
        assert [t["id"] for t in targets] == RUN_WORKFLOWS
        for target in targets:
            assert "does not know" not in target.get("description", ""), target
            assert "runs_start runs it" in target["description"], target
        described = structured(await call(client, "targets_describe", {"target_id": NOOP}))
        assert described["id"] == NOOP, described
        assert "input_schema" not in described, described
        done = structured(await call(client, "runs_start", {"target_id": NOOP}))
        assert done["status"] == host_run(host, real_key, done["run_id"])["status"] == "completed"
