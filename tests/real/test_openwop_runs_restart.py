"""Restarts on the OpenWOP SQLite reference host (durable runs): the backend killed and restarted while a run waits
at a gate, and runbridge restarted (a second `connect()` on the same registry file, as a host starts a new
runbridge for each window) while a run waits and after runs have ended.

Statuses are never downgraded, step names stay names, and the gate is still answered: what the host itself says
(`GET /v1/runs/{id}`) decides. The backend-restart test runs its own host so the session's is not disturbed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import real_backends
from openwop_host_api import APPROVAL, CANCELLABLE, FAILURE, MULTI, RUN_WORKFLOWS, host_run, wait_for_status
from real_backends import HostProcess, Unavailable
from real_client import CLIENTS, Runbridge, call, openwop_profile, structured
from tests.mcp_people import Human, Progress

NEEDS_OPENWOP_HOSTS = True  # starts or picks a host by name (see tests/real/conftest.py)
pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def own_sqlite(tmp_path_factory: pytest.TempPathFactory, real_key: str) -> Iterator[HostProcess]:
    """A SQLite host of these tests' own, to kill and restart (the session's host stays undisturbed)."""
    workdir = tmp_path_factory.mktemp("openwop-sqlite-restart")
    try:
        host = real_backends.openwop_host("sqlite", workdir, real_key).start()
    except Unavailable as exc:  # as the session fixtures do (conftest.available)
        if real_backends.REQUIRED:
            pytest.fail(f"real backend unavailable: {exc}", pytrace=False)
        pytest.skip(f"real backend unavailable: {exc}")
    try:
        yield host
    finally:
        host.stop()


async def _accept(client: Any, gate_id: str) -> dict[str, Any]:
    return structured(await call(client, "gates_respond", {"gate_id": gate_id, "decision": "accept"}))


@pytest.mark.parametrize("kind", CLIENTS)
async def test_the_backend_restarted_while_a_run_waits_at_a_gate_still_reads_and_answers_it(
    kind: str, own_sqlite: HostProcess, real_key: str, workdir: Path
) -> None:
    """The person dismisses the question first (the gate stays open), the host is killed and restarted, then the
    run is read again and the gate answered: live (2025), through input_required (2026) or with gates_respond."""
    host = own_sqlite
    rb = Runbridge(workdir, openwop_profile(host.base_url, RUN_WORKFLOWS), real_key)
    human = Human(("cancel", None), ("accept", {"decision": "accept"}))
    async with rb.connect(kind, human) as client:
        waiting = structured(await call(client, "runs_start", {"target_id": APPROVAL, "wait_seconds": 10}))
        run_id, gate = waiting["run_id"], waiting["waiting_for"]
        assert waiting["status"] == "waiting", waiting
        assert host_run(host, real_key, run_id)["status"] == "waiting-approval"

        host.restart()  # killed (its process group) and started again on the same port and database

        assert host_run(host, real_key, run_id)["status"] == "waiting-approval"
        snapshot = structured(await call(client, "runs_get", {"run_id": run_id}))
        assert snapshot["run"]["status"] == "waiting", snapshot
        assert snapshot["waiting_for"]["gate_id"] == gate["gate_id"], snapshot
        assert snapshot["waiting_for"]["step"] == "Approval Gate", snapshot
        listed = structured(await call(client, "gates_list", {"run_id": run_id}))["gates"]
        assert [g["gate_id"] for g in listed] == [gate["gate_id"]]

        if kind == "no-elicitation":
            answered = await _accept(client, gate["gate_id"])
            assert answered["status"] in ("running", "completed"), answered
        else:  # runs_watch puts the gate to the person again, who accepts it now
            answered = structured(await call(client, "runs_watch", {"run_id": run_id, "wait_seconds": 15}))
            assert len(human.questions) == 2, "asked before the restart, and again after it"
            assert answered["decision"] == "accepted", answered
        assert wait_for_status(host, real_key, run_id, {"completed", "failed", "cancelled"}) == "completed"
        final = structured(await call(client, "runs_watch", {"run_id": run_id, "wait_seconds": 10}))
        assert final["status"] == "completed", final
        assert structured(await call(client, "gates_list", {"run_id": run_id}))["gates"] == []


async def test_runbridge_restarted_reads_waiting_and_ended_runs_true_and_answers_the_gate(
    openwop_sqlite: HostProcess, real_key: str, workdir: Path
) -> None:
    host = openwop_sqlite
    rb = Runbridge(workdir, openwop_profile(host.base_url, RUN_WORKFLOWS), real_key)
    async with rb.connect("no-elicitation") as client:
        completed = structured(await call(client, "runs_start", {"target_id": MULTI}))["run_id"]
        failed = structured(await call(client, "runs_start", {"target_id": FAILURE}))["run_id"]
        started = structured(
            await call(
                client, "runs_start", {"target_id": CANCELLABLE, "inputs": {"delayMs": 30000}, "wait_seconds": 0}
            )
        )
        cancelled = structured(await call(client, "runs_cancel", {"run_id": started["run_id"]}))["run_id"]
        waiting = structured(await call(client, "runs_start", {"target_id": APPROVAL, "wait_seconds": 10}))
        gate_id = waiting["waiting_for"]["gate_id"]
    expected = {
        completed: "completed",
        failed: "failed",
        cancelled: "cancelled",
        waiting["run_id"]: "waiting",
    }
    assert {run_id: host_run(host, real_key, run_id)["status"] for run_id in expected} == {
        **expected,
        waiting["run_id"]: "waiting-approval",
    }

    async with rb.connect("no-elicitation") as client:  # runbridge restarted: same registry, a new process
        listed = {r["run_id"]: r["status"] for r in structured(await call(client, "runs_list", {}))["runs"]}
        assert {run_id: listed[run_id] for run_id in expected} == expected
        for run_id, status in expected.items():
            snapshot = structured(await call(client, "runs_get", {"run_id": run_id}))
            assert snapshot["run"]["status"] == status, snapshot
        assert structured(await call(client, "runs_watch", {"run_id": completed}))["status"] == "completed"
        assert structured(await call(client, "runs_list", {}))["runs"][0]["status"] != "unknown"

        # Step names are the workflow's labels in a process that did not start the run.
        events = structured(await call(client, "runs_events", {"run_id": completed, "limit": 50}))["events"]
        assert [e.get("step") for e in events if e["type"].startswith("node.")] == ["A", "A", "B", "B", "C", "C"]
        gates = structured(await call(client, "gates_list", {}))["gates"]
        assert [g["gate_id"] for g in gates if g["run_id"] == waiting["run_id"]] == [gate_id]
        progress = Progress()
        watched = structured(
            await call(
                client, "runs_watch", {"run_id": waiting["run_id"], "wait_seconds": 5}, progress_callback=progress
            )
        )
        assert watched["status"] == "waiting", watched
        assert watched["waiting_for"]["gate_id"] == gate_id, watched
        assert watched["waiting_for"]["step"] == "Approval Gate", watched
        assert all("gate:" not in m for m in progress.messages), progress.messages

        await _accept(client, gate_id)
        assert wait_for_status(host, real_key, waiting["run_id"], {"completed", "failed"}) == "completed"

    async with rb.connect("legacy") as client:  # restarted again, after every run ended
        expected[waiting["run_id"]] = "completed"
        for run_id, status in expected.items():
            snapshot = structured(await call(client, "runs_get", {"run_id": run_id}))
            assert snapshot["run"]["status"] == status == host_run(host, real_key, run_id)["status"], snapshot
            assert snapshot["open_gates"] == []
        listed = {r["run_id"]: r["status"] for r in structured(await call(client, "runs_list", {}))["runs"]}
        assert {run_id: listed[run_id] for run_id in expected} == expected
        assert structured(await call(client, "gates_list", {}))["gates"] == []
