"""Gates on the OpenWOP SQLite reference host, answered through runbridge over stdio by the official MCP client.

Every gate kind the host has: approval (accept, reject, decline, dismiss), clarification, external event (its
correlation keys), quorum (several votes), and cancel at a gate; in the three kinds of client where the issue asks.
What the host itself reports decides each test: the run's status and error on `GET /v1/runs/{id}`, and its own
database (how many runs it created, each interrupt's outcome and votes).

The Python reference host has no interrupts and the in-memory one runs `core.noop`/`core.delay` only, so gate text
is checked here, on the one host that has gates.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from real_backends import HostProcess
from real_client import CLIENTS, Runbridge, call, error_text, openwop_profile, structured
from tests.mcp_people import Human, Progress

APPROVAL = "conformance-approval"
CLARIFICATION = "conformance-clarification"
EXTERNAL = "conformance-interrupt-external-event"
QUORUM = "conformance-interrupt-quorum"
WORKFLOWS = [APPROVAL, CLARIFICATION, EXTERNAL, QUORUM]
ELICITING = ["legacy", "modern"]

pytestmark = pytest.mark.anyio


# -- what the host says --------------------------------------------------------------------------------------------


def host_run(host: HostProcess, key: str, run_id: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (a loopback URL of the host this test started)
        f"{host.base_url}/v1/runs/{run_id}", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def _db(host: HostProcess) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{host.env['OPENWOP_SQLITE_PATH']}?mode=ro", uri=True, timeout=10)


def runs_created(host: HostProcess, workflow: str) -> int:
    """How many runs of `workflow` the host has, from its own database."""
    with _db(host) as db:
        return int(db.execute("SELECT count(*) FROM runs WHERE workflow_id = ?", (workflow,)).fetchone()[0])


def interrupt_row(host: HostProcess, run_id: str) -> dict[str, Any]:
    """The host's record of the run's one interrupt: its outcome (None while open) and its votes."""
    with _db(host) as db:
        row = db.execute(
            "SELECT outcome, votes_json, resolved_at FROM interrupts WHERE run_id = ?", (run_id,)
        ).fetchone()
    assert row is not None, f"the host has no interrupt for {run_id}"
    return {"outcome": row[0], "votes": json.loads(row[1]), "resolved": row[2] is not None}


# -- runbridge -------------------------------------------------------------------------------------------------------


@pytest.fixture
def rb(openwop_sqlite: HostProcess, real_key: str, workdir: Path) -> Runbridge:
    return Runbridge(workdir, openwop_profile(openwop_sqlite.base_url, WORKFLOWS), real_key)


async def start(client: Any, workflow: str, progress: Progress | None = None) -> dict[str, Any]:
    result = await call(client, "runs_start", {"target_id": workflow, "wait_seconds": 15}, progress_callback=progress)
    return structured(result)


async def respond(client: Any, gate_id: str, decision: str, values: dict[str, Any] | None = None, **kw: Any) -> Any:
    args: dict[str, Any] = {"gate_id": gate_id, "decision": decision, "wait_seconds": 15}
    if values is not None:
        args["values"] = values
    return await call(client, "gates_respond", args, **kw)


async def open_gates(client: Any, run_id: str) -> list[dict[str, Any]]:
    return structured(await call(client, "gates_list", {"run_id": run_id}))["gates"]


# -- approval ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
async def test_an_approval_shows_the_hosts_title_and_description_and_accepting_completes_the_run(
    client: str, rb: Runbridge, openwop_sqlite: HostProcess, real_key: str
) -> None:
    before = runs_created(openwop_sqlite, APPROVAL)
    human = Human(("accept", {"decision": "accept"}))
    async with rb.connect(client, human) as c:
        report = await start(c, APPROVAL)
        if client == "no-elicitation":
            gate = report["waiting_for"]
            text = gate["prompt"]
            assert [o for f in gate["fields"] if f["name"] == "decision" for o in f["options"]] == ["accept", "reject"]
            report = structured(await respond(c, gate["gate_id"], "accept", {"decision": "accept"}))
        else:
            text = human.questions[0].message
            schema = human.questions[0].requested_schema  # type: ignore[union-attr]
            assert [o["const"] for o in schema["properties"]["decision"]["oneOf"]] == ["accept", "reject"]
    assert "Conformance approval" in text
    assert "Conformance suite — please accept to complete the run." in text
    assert "Approve this step?" not in text
    assert report["decision"] == "accepted"
    assert report["status"] == "completed"
    assert host_run(openwop_sqlite, real_key, report["run_id"])["status"] == "completed"
    assert interrupt_row(openwop_sqlite, report["run_id"])["outcome"] == "accepted"
    assert runs_created(openwop_sqlite, APPROVAL) == before + 1, "answering a gate never starts a second run"


@pytest.mark.parametrize("client", ["no-elicitation", "legacy"])
async def test_picking_reject_reports_rejected_and_the_host_ends_the_run_rejected(
    client: str, rb: Runbridge, openwop_sqlite: HostProcess, real_key: str
) -> None:
    progress = Progress()
    human = Human(("accept", {"decision": "reject", "feedback": "not this one"}))
    async with rb.connect(client, human) as c:
        report = await start(c, APPROVAL, progress)
        if client == "no-elicitation":
            gate_id = report["waiting_for"]["gate_id"]
            report = structured(
                await respond(
                    c, gate_id, "accept", {"decision": "reject", "feedback": "not this one"}, progress_callback=progress
                )
            )
    assert report["decision"] == "rejected"
    assert any(m.startswith("rejected: ") for m in progress.messages), progress.messages
    assert not any(m.startswith("accepted") for m in progress.messages), progress.messages
    host = host_run(openwop_sqlite, real_key, report["run_id"])
    assert (host["status"], host["error"]["code"]) == ("failed", "interrupt_rejected")
    assert report["status"] == "failed"
    assert interrupt_row(openwop_sqlite, report["run_id"])["outcome"] == "rejected"


@pytest.mark.parametrize("client", ["no-elicitation", "legacy"])
async def test_declining_an_approval_rejects_it_on_the_host(
    client: str, rb: Runbridge, openwop_sqlite: HostProcess, real_key: str
) -> None:
    async with rb.connect(client, Human(("decline", None))) as c:
        report = await start(c, APPROVAL)
        if client == "no-elicitation":
            report = structured(await respond(c, report["waiting_for"]["gate_id"], "decline"))
    assert report["decision"] == "declined"
    host = host_run(openwop_sqlite, real_key, report["run_id"])
    assert (host["status"], host["error"]["code"]) == ("failed", "interrupt_rejected")
    assert interrupt_row(openwop_sqlite, report["run_id"])["outcome"] == "rejected"


@pytest.mark.parametrize("client", ELICITING)
async def test_dismissing_an_approval_leaves_it_open_and_cancelling_at_the_gate_cancels_the_run(
    client: str, rb: Runbridge, openwop_sqlite: HostProcess, real_key: str
) -> None:
    async with rb.connect(client, Human(("cancel", None))) as c:
        report = await start(c, APPROVAL)
        run_id = report["run_id"]
        assert report["decision"] == "cancelled"
        assert report["status"] == "waiting"
        assert [g["gate_id"] for g in await open_gates(c, run_id)] == [report["waiting_for"]["gate_id"]]
        assert host_run(openwop_sqlite, real_key, run_id)["status"] == "waiting-approval"
        assert not interrupt_row(openwop_sqlite, run_id)["resolved"], "nothing was sent to the host"

        cancelled = structured(await call(c, "runs_cancel", {"run_id": run_id, "reason": "not needed"}))
        assert cancelled["status"] == "cancelled", cancelled
        assert await open_gates(c, run_id) == []
    assert host_run(openwop_sqlite, real_key, run_id)["status"] == "cancelled"


# -- clarification -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_clarification_asks_the_hosts_question_and_its_answer_completes_the_run(
    client: str, rb: Runbridge, openwop_sqlite: HostProcess, real_key: str
) -> None:
    human = Human(("accept", {"q1": "blue"}))
    async with rb.connect(client, human) as c:
        report = await start(c, CLARIFICATION)
        if client == "no-elicitation":
            gate = report["waiting_for"]
            assert gate["prompt"] == "What is your favorite color?"
            assert [(f["name"], f["type"], f["label"], f["required"]) for f in gate["fields"]] == [
                ("q1", "text", "What is your favorite color?", True)
            ]
            refused = error_text(await respond(c, gate["gate_id"], "accept", {}))
            assert "q1 is required" in refused
            assert host_run(openwop_sqlite, real_key, report["run_id"])["status"] == "waiting-input"
            report = structured(await respond(c, gate["gate_id"], "accept", {"q1": "blue"}))
        else:
            question = human.questions[0]
            assert "What is your favorite color?" in question.message
            schema = question.requested_schema  # type: ignore[union-attr]
            assert schema["properties"] == {"q1": {"title": "What is your favorite color?", "type": "string"}}
            assert schema["required"] == ["q1"]
    assert report["decision"] == "accepted"
    assert report["status"] == "completed", report
    # The host takes only a string answer for every question it asked (422 otherwise): its run completing and its
    # interrupt resolved are its word that "q1" was answered.
    assert host_run(openwop_sqlite, real_key, report["run_id"])["status"] == "completed"
    assert interrupt_row(openwop_sqlite, report["run_id"])["outcome"] == "resolved"


# -- external event ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["no-elicitation", "legacy"])
async def test_an_external_event_names_its_correlation_keys_and_is_answered_through_its_token(
    client: str, rb: Runbridge, openwop_sqlite: HostProcess, real_key: str
) -> None:
    # The person first gets a correlation key wrong: the host refuses (422), the gate stays open; then right.
    human = Human(("accept", {"orderId": "fixture-order-1", "status": "failed"}))
    async with rb.connect(client, human) as c:
        if client == "no-elicitation":
            gate = (await start(c, EXTERNAL))["waiting_for"]
            text = gate["prompt"]
            fields = {f["name"]: f for f in gate["fields"]}
            refused = error_text(await respond(c, gate["gate_id"], "accept", {"status": "failed"}))
        else:
            # The refusal comes back as the tool's error: the host's reason, and the gate left open.
            refused = error_text(await call(c, "runs_start", {"target_id": EXTERNAL, "wait_seconds": 15}))
            text = human.questions[0].message
            fields = human.questions[0].requested_schema["properties"]  # type: ignore[union-attr]
            [gate] = structured(await call(c, "gates_list", {}))["gates"]
        run_id = gate["run_id"]
        assert 'orderId = "fixture-order-1"' in text
        assert 'status = "completed"' in text
        assert {"orderId", "status", "eventPayload"} <= set(fields)
        assert "correlation_mismatch" in refused
        assert host_run(openwop_sqlite, real_key, run_id)["status"] == "waiting-external"
        assert [g["gate_id"] for g in await open_gates(c, run_id)] == [gate["gate_id"]], (
            "a refused answer closes nothing"
        )

        report = structured(await respond(c, gate["gate_id"], "accept", {"eventPayload": '{"shipped": true}'}))
    assert report["status"] == "completed", report
    assert host_run(openwop_sqlite, real_key, run_id)["status"] == "completed"
    assert interrupt_row(openwop_sqlite, run_id)["outcome"] == "resolved"


# -- quorum ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_quorum_counts_its_votes_stays_listed_while_the_host_waits_and_completes_on_the_third(
    client: str, rb: Runbridge, openwop_sqlite: HostProcess, real_key: str
) -> None:
    progress = Progress()
    human = Human(*[("accept", {"decision": "accept"})] * 3)
    async with rb.connect(client, human) as c:
        report = await start(c, QUORUM, progress)
        run_id = report["run_id"]
        gate_id = report["waiting_for"]["gate_id"]
        for votes in (1, 2):
            if client == "no-elicitation":
                assert f"{votes - 1} of 3 approvals" in report["waiting_for"]["prompt"]
                report = structured(await respond(c, gate_id, "accept", {"decision": "accept"}))
            assert report["decision"] == "accepted"
            assert report["status"] == "waiting"
            assert report["waiting_for"]["gate_id"] == gate_id
            assert f"{votes} of 3 approvals" in report["waiting_for"]["prompt"]
            assert report["waiting_for"]["context"]["approvals"] == f"{votes} of 3 approvals"
            host = host_run(openwop_sqlite, real_key, run_id)
            assert host["status"] == "waiting-approval"
            assert len(interrupt_row(openwop_sqlite, run_id)["votes"]) == votes
            assert [g["gate_id"] for g in await open_gates(c, run_id)] == [gate_id]
            snapshot = structured(await call(c, "runs_get", {"run_id": run_id}))
            assert snapshot["open_gates"] == [gate_id], "runs_get opens no second gate for the same interrupt"
            assert snapshot["waiting_for"]["context"]["approvals"] == f"{votes} of 3 approvals"
            if client != "no-elicitation":
                report = structured(
                    await call(c, "runs_watch", {"run_id": run_id, "wait_seconds": 15}, progress_callback=progress)
                )
        if client == "no-elicitation":
            report = structured(await respond(c, gate_id, "accept", {"decision": "accept"}, progress_callback=progress))
        events = structured(await call(c, "runs_events", {"run_id": run_id, "limit": 100}))
    assert report["status"] == "completed", report
    if client != "no-elicitation":
        assert len(human.questions) == 3
        assert "0 of 3 approvals" in human.questions[0].message
        assert "2 of 3 approvals" in human.questions[2].message
    assert host_run(openwop_sqlite, real_key, run_id)["status"] == "completed"
    row = interrupt_row(openwop_sqlite, run_id)
    assert (row["outcome"], len(row["votes"])) == ("accepted", 3)
    votes = [e["text"] for e in events["events"] if e["type"] == "interrupt.vote"]
    assert len(votes) == 2
    assert all("vote recorded" in v and "interrupt.vote" not in v for v in votes), votes
    assert any("vote recorded" in m for m in progress.messages), progress.messages
    assert not any("interrupt.vote" in m for m in progress.messages), progress.messages
