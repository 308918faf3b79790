"""Gates the conformance fixtures do not have, on the real OpenWOP SQLite host: a clarification with several
questions, an approval whose node gives no title, and two gates in one run.

The host runs whatever workflow files its fixtures folder holds, so this module starts one SQLite host of its own
(about 5 s) with two more workflow files beside the conformance fixtures. The host's code is unchanged: the form,
the answer's shape and the run's end are the host's own.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import real_backends
from real_backends import HostProcess, Unavailable
from real_client import CLIENTS, Human, Runbridge, call, error_text, openwop_profile, structured

NEEDS_OPENWOP_HOSTS = True  # starts or picks a host by name (see tests/real/conftest.py)
pytestmark = pytest.mark.anyio

TWO_QUESTIONS = "runbridge-two-questions"
TWO_GATES = "runbridge-untitled-approval-then-question"
QUESTIONS = [
    {"id": "name", "question": "What should the release be called?"},
    {"id": "when", "question": "When should it ship?"},
]


def _workflow(workflow_id: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "name": workflow_id,
        "version": "1.0",
        "nodes": [{"position": {"x": 0, "y": 0}, "inputs": {}, **n} for n in nodes],
        "edges": [],
        "triggers": [{"id": "manual", "type": "manual", "enabled": True}],
        "variables": [],
        "settings": {"timeout": 0},
    }


WORKFLOW_FILES = {
    TWO_QUESTIONS: _workflow(
        TWO_QUESTIONS,
        [
            {
                "id": "ask",
                "typeId": "core.clarificationGate",
                "name": "Release details",
                "config": {"questions": QUESTIONS},
            }
        ],
    ),
    TWO_GATES: _workflow(
        TWO_GATES,
        [
            {"id": "approve", "typeId": "core.approvalGate", "name": "Sign-off", "config": {}},
            {
                "id": "ask",
                "typeId": "core.clarificationGate",
                "name": "Follow-up",
                "config": {"questions": [{"id": "why", "question": "Why ship now?"}]},
            },
        ],
    ),
}


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, real_key: str) -> Iterator[HostProcess]:
    workdir = tmp_path_factory.mktemp("openwop-sqlite-questions")

    def make() -> HostProcess:
        copy = workdir / "openwop"
        shutil.copytree(real_backends.openwop_source(), copy, ignore=shutil.ignore_patterns("node_modules"))
        for workflow_id, doc in WORKFLOW_FILES.items():
            (copy / "conformance-fixtures" / f"{workflow_id}.json").write_text(json.dumps(doc), encoding="utf-8")
        return real_backends.openwop_host("sqlite", workdir, real_key).start()

    try:
        started = make()
    except Unavailable as exc:  # as `conftest.available`: a failure where the real tier is required, else a skip
        if real_backends.REQUIRED:
            pytest.fail(f"real backend unavailable: {exc}", pytrace=False)
        pytest.skip(f"real backend unavailable: {exc}")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def rb(host: HostProcess, real_key: str, workdir: Path) -> Runbridge:
    return Runbridge(workdir, openwop_profile(host.base_url, list(WORKFLOW_FILES)), real_key)


def host_state(host: HostProcess, run_id: str) -> tuple[str, list[str | None]]:
    """The run's status and its interrupts' outcomes, from the host's own database."""
    with sqlite3.connect(f"file:{host.env['OPENWOP_SQLITE_PATH']}?mode=ro", uri=True, timeout=10) as db:
        status = db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
        rows = db.execute("SELECT outcome FROM interrupts WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
    return str(status), [r[0] for r in rows]


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_clarification_with_two_questions_is_a_form_of_two_fields_and_both_answers_reach_the_host(
    client: str, rb: Runbridge, host: HostProcess
) -> None:
    answers = {"name": "Lighthouse", "when": "Friday"}
    human = Human(("accept", answers))
    async with rb.connect(client, human) as c:
        report = structured(await call(c, "runs_start", {"target_id": TWO_QUESTIONS, "wait_seconds": 15}))
        if client == "no-elicitation":
            gate = report["waiting_for"]
            text, fields = gate["prompt"], {f["name"]: (f["label"], f["required"]) for f in gate["fields"]}
            refused = error_text(
                await call(
                    c, "gates_respond", {"gate_id": gate["gate_id"], "decision": "accept", "values": {"name": "x"}}
                )
            )
            assert "when is required" in refused
            assert host_state(host, report["run_id"]) == ("waiting-input", [None]), "nothing was sent"
            report = structured(
                await call(
                    c,
                    "gates_respond",
                    {"gate_id": gate["gate_id"], "decision": "accept", "values": answers, "wait_seconds": 15},
                )
            )
        else:
            text = human.questions[0].message
            schema = human.questions[0].requested_schema  # type: ignore[union-attr]
            fields = {k: (v["title"], k in schema["required"]) for k, v in schema["properties"].items()}
    assert fields == {"name": ("What should the release be called?", True), "when": ("When should it ship?", True)}
    assert "What should the release be called?" in text
    assert "When should it ship?" in text
    assert report["status"] == "completed", report
    # The host takes the answers only when every question has a string answer (422 otherwise).
    assert host_state(host, report["run_id"]) == ("completed", ["resolved"])


async def test_an_untitled_approval_reads_the_generic_text_and_a_second_gate_in_the_run_is_asked_next(
    rb: Runbridge, host: HostProcess
) -> None:
    human = Human(("accept", {"decision": "accept"}), ("accept", {"why": "It is ready."}))
    async with rb.connect("legacy", human) as c:
        report = structured(await call(c, "runs_start", {"target_id": TWO_GATES, "wait_seconds": 20}))
    assert [q.message.splitlines()[0] for q in human.questions] == ["Approve this step?", "Why ship now?"]
    assert report["status"] == "completed", report
    assert host_state(host, report["run_id"]) == ("completed", ["accepted", "resolved"])
