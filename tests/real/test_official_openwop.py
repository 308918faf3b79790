"""The official OpenWOP client libraries judge the OpenWOP sandbox: `openwop-client` 1.1.1 drives it in v1 and 2.7.0
in v2, each in a virtual environment of its own, through the flows its README documents: discovery, create, the SSE
stream, the gate (resolved per run or through its token), the stream resumed from the last event, the snapshot, the
poll, fork, cancel. A sandbox answer a client cannot read fails here; what the sandbox recorded (the run's status,
the answer its gate took) is checked beside what the client read.

The same 1.1.1 flows run against the real OpenWOP SQLite reference host, to tell a sandbox bug from a library quirk:
where the library cannot run a flow against the real host either, the test says so and checks that the sandbox's
imitation of that host fails the library the same way. No OpenWOP host on this machine serves v2, so the 2.7.0
flows are judged against the sandbox only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from official_clients import client_python, contiguous, drive, finished, host_get, host_run_settles
from real_backends import HostProcess

from runbridge.sandbox import SandboxServer

DECIDED = "2026-01-01T00:00:00Z"
SANDBOX_FLOWS: list[dict[str, Any]] = [
    {"name": "discovery", "flow": "discovery"},
    {
        "name": "approval",
        "flow": "gate",
        "workflow": "approval-demo",
        "resume": {"action": "accept", "decidedAt": DECIDED},
        "fork": True,
    },
    {
        "name": "clarification",
        "flow": "gate",
        "workflow": "clarify-demo",
        "resume": {"answers": {"audience": "engineers", "tone": "plain"}},
        "resolve": "token",
    },
    {
        "name": "external",
        "flow": "gate",
        "workflow": "external-demo",
        "resume": {"orderId": "order-42", "eventPayload": {"paid": True}},
        "resolve": "token",
    },
    {"name": "cancel", "flow": "cancel", "workflow": "approval-demo", "until": ["interrupt.requested"]},
    {"name": "errors", "flow": "errors", "workflow": "quick-demo"},
    {"name": "pause", "flow": "pause", "workflow": "approval-demo"},
]
# (client, sandbox variant): each major on a host serving only its version, and both on a host serving both.
CASES = [
    ("openwop-client-1", "reference"),
    ("openwop-client-1", "dual-host"),
    ("openwop-client-2", "v2-host"),
    ("openwop-client-2", "dual-host"),
]


@pytest.fixture(scope="module", params=CASES, ids=[f"{c}-{v}" for c, v in CASES])
def judged(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, Any], SandboxServer, int]]:
    """Every flow as the client read it on one sandbox variant, that sandbox, and the client's major."""
    client, variant = request.param
    python = client_python(client)
    with SandboxServer("openwop", variant=variant, keepalive_seconds=0.5) as sandbox:
        plan = {"base_url": sandbox.base_url, "api_key": sandbox.api_key, "flows": SANDBOX_FLOWS}
        results = drive(python, "drive_openwop.py", plan)
        yield results, sandbox, int(results["client"].split(".")[0])


def engine_run(sandbox: SandboxServer, run_id: str) -> tuple[str, list[Any]]:
    """The run's status and the answers its gates took, as the sandbox recorded them."""

    def read() -> tuple[str, list[Any]]:
        run = sandbox.engine.get_run(run_id)
        return run.status, [e.payload.get("value") for e in run.events if e.type == "gate.resolved"]

    return sandbox.call(read)


def whole_log(flow: dict[str, Any]) -> list[int]:
    return flow["stream_to_gate"]["sequences"] + flow["stream_after_gate"]["sequences"]


def test_the_client_reads_the_discovery_document(judged: Any) -> None:
    results, _, major = judged
    found = finished(results["discovery"])
    if major == 1:
        assert found["protocolVersion"] == "1.0"
        assert found["limits"]["clarificationRounds"] == 3
        return
    # The 2.x client sees a capability only as a v2 record ({status, since, witness, ...facets}).
    assert found["preferredVersion"] == "2.0"
    assert "2.0" in found["protocolVersions"]
    assert {"replay", "interrupt", "eventLog", "limits", "idempotency"} <= set(found["families"])
    assert found["families"]["interrupt"]["tokens"] is True
    assert found["families"]["eventLog"]["poll"] is True
    assert found["families"]["limits"]["clarificationRounds"] == 3


def test_an_approval_runs_create_stream_gate_resume_poll_and_fork(judged: Any) -> None:
    results, sandbox, major = judged
    flow = finished(results["approval"])
    assert flow["created_status"] == "pending"
    assert flow["interrupt"] == {"kind": "approval", "nodeId": "approve"}
    at_gate = flow["snapshot_at_gate"]
    assert at_gate["status"] == "waiting-approval"
    assert at_gate["currentNodeId"] == "approve"
    assert flow["resolved"] == {"runId": flow["run_id"], "nodeId": "approve", "status": "waiting-approval"}
    # Resumed from the last event read: no event lost or repeated, through the end of the run.
    assert contiguous(whole_log(flow))
    assert flow["stream_after_gate"]["types"][-1] == "run.completed"
    assert flow["snapshot_at_end"]["status"] == "completed"
    assert flow["poll"] == {"sequences": whole_log(flow), "complete": True}
    assert flow["fork"]["sourceRunId"] == flow["run_id"]
    assert engine_run(sandbox, flow["run_id"]) == ("completed", [{"action": "accept", "decidedAt": DECIDED}])
    if major == 2:  # what only v2 has: the run's owner, an integer engine version, v2 event names
        assert at_gate["owner_tenant"] == "default"
        assert at_gate["engineVersion"] == 1
        assert at_gate["interrupt"]["nodeId"] == "approve"
        assert "agent.tool-called" in flow["stream_after_gate"]["types"]
    else:
        assert "agent.toolCalled" in flow["stream_after_gate"]["types"]


def test_a_clarification_is_inspected_and_answered_through_its_token(judged: Any) -> None:
    results, sandbox, _ = judged
    flow = finished(results["clarification"])
    assert flow["snapshot_at_gate"]["status"] == "waiting-input"
    assert flow["inspected"]["kind"] == "clarification"
    assert [q["id"] for q in flow["inspected"]["data"]["questions"]] == ["audience", "tone"]
    assert flow["snapshot_at_end"]["status"] == "completed"
    assert contiguous(whole_log(flow))
    answers = {"answers": {"audience": "engineers", "tone": "plain"}}
    assert engine_run(sandbox, flow["run_id"]) == ("completed", [answers])


def test_an_external_event_is_answered_through_its_token_with_its_correlation(judged: Any) -> None:
    results, sandbox, _ = judged
    flow = finished(results["external"])
    assert flow["snapshot_at_gate"]["status"] == "waiting-external"
    assert flow["inspected"]["data"]["correlation"] == {"orderId": "order-42"}
    assert flow["snapshot_at_end"]["status"] == "completed"
    status, answers = engine_run(sandbox, flow["run_id"])
    assert status == "completed"
    assert answers[0]["orderId"] == "order-42"


def test_a_run_cancelled_at_its_gate_stays_cancelled(judged: Any) -> None:
    results, sandbox, _ = judged
    flow = finished(results["cancel"])
    assert flow["cancelled"] == {"runId": flow["run_id"], "status": "cancelled"}
    assert flow["snapshot"]["status"] == "cancelled"
    assert flow["stream_all"]["types"][-1] == "run.cancelled"
    assert contiguous(flow["stream_all"]["sequences"])
    assert flow["resolve_after_cancel"]["code"] == "interrupt_not_found"
    assert engine_run(sandbox, flow["run_id"]) == ("cancelled", [])


def test_the_2_x_client_pauses_and_resumes_a_run(judged: Any) -> None:
    results, sandbox, major = judged
    flow = finished(results["pause"])
    if major == 1:
        assert flow == {"unsupported": "openwop-client 1.x has no runs_pause"}
        return
    assert flow["paused"]["status"] == "paused"
    assert flow["paused"]["pausedAt"]
    assert flow["resumed"]["status"] == "running"
    assert (flow["resume_again"]["status"], flow["resume_again"]["code"]) == (409, "run_not_paused")
    assert engine_run(sandbox, flow["run_id"])[0] == "cancelled"


# The refusals the client reads, the same on the sandbox and on the SQLite host (its envelope's code and status).
REFUSALS = {
    "unknown_run": (404, "run_not_found"),
    "unknown_workflow": (404, "workflow_not_found"),
    "no_gate": (404, "interrupt_not_found"),
}


def refusals(errors: dict[str, Any]) -> dict[str, tuple[int, str]]:
    assert all(errors[name]["message"] for name in REFUSALS)
    return {name: (errors[name]["status"], errors[name]["code"]) for name in REFUSALS}


def test_the_client_reads_the_sandbox_refusals(judged: Any) -> None:
    assert refusals(finished(judged[0]["errors"])) == REFUSALS


# -- the same library on the real SQLite reference host ----------------------------------------------------------

HOST_FLOWS: list[dict[str, Any]] = [
    {"name": "discovery", "flow": "discovery"},
    {"name": "approval", "flow": "gate", "workflow": "conformance-approval", "resume": {"action": "accept"}},
    {
        "name": "clarification",
        "flow": "gate",
        "workflow": "conformance-clarification",
        "resume": {"answers": {"q1": "blue"}},
    },
    {
        "name": "external",
        "flow": "gate",
        "workflow": "conformance-interrupt-external-event",
        "resume": {"orderId": "fixture-order-1", "status": "completed"},
        "resolve": "token",
        "fork": True,
    },
    {"name": "cancel", "flow": "cancel", "workflow": "conformance-approval", "until": ["node.suspended"]},
    {"name": "errors", "flow": "errors", "workflow": "conformance-noop"},
    {
        "name": "cancel_mid_run",
        "flow": "cancel",
        "workflow": "conformance-cancellable",
        "inputs": {"delayMs": 30000},
        "until": ["node.started"],
    },
]


@pytest.fixture(scope="module")
def on_sqlite(openwop_sqlite: HostProcess, real_key: str) -> dict[str, Any]:
    plan = {"base_url": openwop_sqlite.base_url, "api_key": real_key, "flows": HOST_FLOWS}
    return drive(client_python("openwop-client-1"), "drive_openwop.py", plan)


def test_on_the_sqlite_host_the_1_x_client_cannot_read_a_per_run_resolve(
    on_sqlite: dict[str, Any], openwop_sqlite: HostProcess, real_key: str
) -> None:
    """A library quirk, not a sandbox bug: `interrupts_resolve_by_run` of 1.1.1 reads a top-level `nodeId`, and the
    SQLite host answers `{runId, status, interrupt: {nodeId, outcome, votes}}`. The host took the answer (the run
    completes); only the library cannot read what it said. The sandbox's `sqlite-host` variant answers the same."""
    for name in ("approval", "clarification"):
        flow = on_sqlite[name]
        assert flow["failed"] == "resolve", flow
        assert flow["error"] == "KeyError: 'nodeId'"
        assert flow["snapshot_at_gate"]["status"] in ("waiting-approval", "waiting-input")
        assert host_run_settles(openwop_sqlite.base_url, real_key, flow["run_id"])["status"] == "completed"


def test_the_sqlite_variant_of_the_sandbox_reads_to_the_1_x_client_as_the_real_host(
    on_sqlite: dict[str, Any],
) -> None:
    """The sandbox's imitation of the SQLite host, judged by the same library: the per-run resolve it cannot read,
    events numbered from 0, no fork route (404); a token flow that runs through."""
    python = client_python("openwop-client-1")
    flows = [SANDBOX_FLOWS[1], {**SANDBOX_FLOWS[3], "fork": True}]
    with SandboxServer("openwop", variant="sqlite-host") as sandbox:
        plan = {"base_url": sandbox.base_url, "api_key": sandbox.api_key, "flows": flows}
        results = drive(python, "drive_openwop.py", plan)
        approval, external = results["approval"], finished(results["external"])
        assert (approval["failed"], approval["error"]) == ("resolve", on_sqlite["approval"]["error"])
        assert engine_run(sandbox, approval["run_id"])[0] == "completed"
    real = on_sqlite["external"]
    assert external["stream_to_gate"]["sequences"][0] == real["stream_to_gate"]["sequences"][0] == 0
    assert (external["fork"]["status"], external["fork"]["code"]) == (real["fork"]["status"], real["fork"]["code"])
    assert real["fork"]["status"] == 404


def test_on_the_sqlite_host_the_1_x_client_runs_the_token_flow(
    on_sqlite: dict[str, Any], openwop_sqlite: HostProcess, real_key: str
) -> None:
    """The external event answered through its token, as the sandbox lets the client do. Two differences from the
    sandbox that are the host's, not bugs of it: the host has no `GET /v1/interrupts/{token}` (inspect is 404), and
    its poll says `isTerminal` where 1.1.1 reads `isComplete`, so the client never sees the poll complete (the log
    still ends with `run.completed`)."""
    flow = finished(on_sqlite["external"])
    assert flow["interrupt"] == {"kind": "external-event", "nodeId": "wait-for-external"}
    assert flow["snapshot_at_gate"]["status"] == "waiting-external"
    assert flow["inspected"]["status"] == 404
    assert flow["stream_after_gate"]["types"][-1] == "run.completed"
    assert contiguous(whole_log(flow))
    assert flow["poll"] == {"sequences": whole_log(flow), "complete": False}
    assert host_get(openwop_sqlite.base_url, real_key, f"/v1/runs/{flow['run_id']}")["status"] == "completed"


def test_on_the_sqlite_host_the_1_x_client_reads_the_same_refusals_as_on_the_sandbox(on_sqlite: dict[str, Any]) -> None:
    assert refusals(finished(on_sqlite["errors"])) == REFUSALS


def test_on_the_sqlite_host_the_1_x_client_reads_discovery_and_cancels(
    on_sqlite: dict[str, Any], openwop_sqlite: HostProcess, real_key: str
) -> None:
    assert finished(on_sqlite["discovery"])["protocolVersion"] == "1.0"
    at_gate = finished(on_sqlite["cancel"])
    assert at_gate["cancelled"]["status"] == "cancelled"
    assert at_gate["stream_all"]["types"][-1] == "run.cancelled"
    assert at_gate["resolve_after_cancel"]["code"] == "interrupt_not_found"
    mid_run = finished(on_sqlite["cancel_mid_run"])
    assert mid_run["cancelled"]["status"] in ("cancelling", "cancelled")  # the host answers `cancelling` mid-node
    assert mid_run["stream_all"]["types"][-1] == "run.cancelled"
    for flow in (at_gate, mid_run):
        assert host_get(openwop_sqlite.base_url, real_key, f"/v1/runs/{flow['run_id']}")["status"] == "cancelled"


# -- the Python and in-memory reference hosts: flows the 1.x library cannot run there ------------------------------


def other_host_flows(workflow: str) -> list[dict[str, Any]]:
    return [{"name": "discovery", "flow": "discovery"}, {"name": "run", "flow": "run", "workflow": workflow}]


def on_sandbox(variant: str) -> dict[str, Any]:
    """The same flows on the sandbox's imitation of a host (`quick-demo` stands for `conformance-noop`)."""
    with SandboxServer("openwop", variant=variant) as sandbox:
        plan = {"base_url": sandbox.base_url, "api_key": sandbox.api_key, "flows": other_host_flows("quick-demo")}
        return drive(client_python("openwop-client-1"), "drive_openwop.py", plan)


def test_on_the_python_host_the_1_x_client_cannot_create_a_run(openwop_python: HostProcess, real_key: str) -> None:
    """A library quirk against this host: its create answer has no `eventsUrl`, which 1.1.1 requires, so the client
    cannot even start a run there (the host did create it; runbridge does not need the link). The sandbox's
    `python-host` answers the same."""
    plan = {"base_url": openwop_python.base_url, "api_key": real_key, "flows": other_host_flows("conformance-noop")}
    for results in (drive(client_python("openwop-client-1"), "drive_openwop.py", plan), on_sandbox("python-host")):
        assert finished(results["discovery"])["protocolVersion"] == "1.0"
        assert results["run"]["failed"] == "create"
        assert results["run"]["error"] == "KeyError: 'eventsUrl'"


def test_on_the_in_memory_host_the_1_x_client_reads_no_streamed_event(
    openwop_inmemory: HostProcess, real_key: str
) -> None:
    """A library quirk against this host: its SSE frames say `seq`/`data` where 1.1.1 reads `sequence`/`payload`,
    so it drops every streamed event (silently); the snapshot and the poll, spelled canonically, read fine. The
    sandbox's `in-memory-host` answers the same."""
    plan = {"base_url": openwop_inmemory.base_url, "api_key": real_key, "flows": other_host_flows("conformance-noop")}
    real = finished(drive(client_python("openwop-client-1"), "drive_openwop.py", plan)["run"])
    imitation = finished(on_sandbox("in-memory-host")["run"])
    for run in (real, imitation):
        assert run["stream"] == {"types": [], "sequences": []}
        assert run["snapshot"]["status"] == "completed"
        assert contiguous(run["poll"]["sequences"])
        assert run["poll"]["sequences"][0] == 0
    assert real["poll"]["sequences"] == [0, 1, 2, 3]
