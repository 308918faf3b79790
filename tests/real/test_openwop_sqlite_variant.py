"""The sandbox's `sqlite-host` variant judged by the real SQLite reference host: the same gate flows driven on both
over plain HTTP (never through runbridge), compared shape by shape: which events signal a gate, which keys each
answer and event carries, which interrupts get a token, and how the token surface answers.

The workflows differ (the host serves the conformance fixtures, the sandbox its demos), so only what does not
depend on the workflow is compared: key sets, event types around the gate, status codes and error codes."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from real_backends import HostProcess

from runbridge.sandbox import SandboxServer

# (real host workflow, sandbox workflow) for each gate kind.
FLOWS = {
    "approval": ("conformance-approval", "approval-demo"),
    "rejection": ("conformance-approval", "approval-demo"),
    "clarification": ("conformance-clarification", "clarify-demo"),
    "external": ("conformance-interrupt-external-event", "external-demo"),
}
GATE_SIGNALS = {"interrupt.requested", "node.suspended", "approval.requested", "clarification.requested"}
WAITING = {"waiting-approval", "waiting-input", "waiting-external", "suspended"}


class Wire:
    """Plain JSON calls on one OpenWOP host (base URL and key)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url, self.key = base_url, key

    def call(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {self.key}"} if auth else {})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, method=method, data=data, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (a loopback test server)
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw) if raw else None
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    def poll_until(self, run_id: str, types: set[str], after: int | None = None) -> tuple[list[dict[str, Any]], Any]:
        """The run's events after `after` up to the first of `types` (or its end), and the last poll body; each
        poll is a bounded long-poll on the host, the whole wait bounded too."""
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        body: Any = None
        while time.monotonic() < deadline:
            cursor = f"&lastSequence={after}" if after is not None else ""
            status, body = self.call("GET", f"/v1/runs/{run_id}/events/poll?timeout=2{cursor}")
            assert status == 200, (status, body)
            for event in body["events"]:
                events.append(event)
                after = int(event["sequence"])
                if event["type"] in types:
                    return events, body
            if body.get("isTerminal") or body.get("isComplete"):
                return events, body
        raise AssertionError(f"no {sorted(types)} within 20 s; saw {[e['type'] for e in events]}")

    def snapshot(self, run_id: str) -> dict[str, Any]:
        status, doc = self.call("GET", f"/v1/runs/{run_id}")
        assert status == 200, (status, doc)
        return doc

    def waiting(self, run_id: str) -> dict[str, Any]:
        """The run's snapshot once it waits at its gate (bounded)."""
        deadline = time.monotonic() + 20
        doc = self.snapshot(run_id)
        while doc["status"] not in WAITING and time.monotonic() < deadline:
            time.sleep(0.05)  # polls a server's run status, bounded by the deadline
            doc = self.snapshot(run_id)
        assert doc["status"] in WAITING, doc
        return doc


def keys(doc: Any) -> set[str]:
    return set(doc) if isinstance(doc, dict) else set()


def drive(wire: Wire, workflow: str, kind: str) -> dict[str, Any]:
    """One gate flow: start, read the gate (events, snapshot, token), answer it as the host requires, read on."""
    status, created = wire.call("POST", "/v1/runs", {"workflowId": workflow, "inputs": {}})
    assert status == 201, (status, created)
    run_id = created["runId"]
    before, _ = wire.poll_until(run_id, GATE_SIGNALS)
    signal = before[-1]
    snapshot = wire.waiting(run_id)
    interrupt = snapshot["interrupt"]
    config = interrupt.get("payload", {}).get("config") or interrupt.get("data") or {}
    out: dict[str, Any] = {
        "signals": [e["type"] for e in before if e["type"] in GATE_SIGNALS],
        "event_keys": set().union(*(keys(e) for e in before)),
        "signal_payload_keys": keys(signal["payload"]),
        "signal_data_is_payload": signal.get("data") == signal["payload"],
        "snapshot_interrupt_keys": keys(interrupt),
        "snapshot_payload_keys": keys(interrupt.get("payload")),
        "callback_url": interrupt.get("callbackUrl", "").rsplit("/", 1)[0],
    }
    node = signal["nodeId"]
    token = interrupt.get("interruptToken")
    if kind == "external":
        out["inspect"] = wire.call("GET", f"/v1/interrupts/{token}", auth=False)[0]
        value = dict(config["correlation"])
        run_scoped, refused = wire.call("POST", f"/v1/runs/{run_id}/interrupts/{node}", {"resumeValue": value})
        out["run_scoped"] = (run_scoped, refused["error"])
        status, answered = wire.call("POST", f"/v1/interrupts/{token}", {"resumeValue": value}, auth=False)
        again, repeated = wire.call("POST", f"/v1/interrupts/{token}", {"resumeValue": value}, auth=False)
        out["token_again"] = (again, repeated["error"])
        out["token_status_waits"] = answered.get("status") in WAITING
    else:
        if kind in ("approval", "rejection"):
            value: dict[str, Any] = {"action": "accept" if kind == "approval" else "reject"}
        else:
            value = {"answers": {str(q["id"]): "plain" for q in config["questions"]}}
        status, answered = wire.call("POST", f"/v1/runs/{run_id}/interrupts/{node}", {"resumeValue": value})
        out["interrupt_keys"] = keys(answered.get("interrupt"))
        out["outcome"] = answered.get("interrupt", {}).get("outcome")
        out["vote_keys"] = set().union(*(keys(v) for v in answered.get("interrupt", {}).get("votes", [])))
    out["answer"] = (status, keys(answered))
    after, last_page = wire.poll_until(run_id, {"run.completed", "run.failed"}, after=int(signal["sequence"]))
    resumed = [e for e in after if e["nodeId"] == node and e["type"] != "node.completed"]
    out["resumed"] = [(e["type"], keys(e["payload"])) for e in resumed]
    out["after_types"] = [e["type"] for e in after][:3]
    out["ends"] = after[-1]["type"]
    out["poll_keys"] = keys(last_page)
    out["status_at_end"] = wire.snapshot(run_id)["status"]
    return out


@pytest.fixture(scope="module")
def observed(openwop_sqlite: HostProcess, real_key: str) -> Iterator[dict[str, dict[str, Any]]]:
    """Each flow on the real host and on the sandbox's `sqlite-host` variant: {kind: {"real": …, "sandbox": …}}."""
    real = Wire(openwop_sqlite.base_url, real_key)
    with SandboxServer("openwop", variant="sqlite-host") as sandbox:
        imitation = Wire(sandbox.base_url, sandbox.api_key)
        yield {
            kind: {"real": drive(real, on_real, kind), "sandbox": drive(imitation, on_sandbox, kind)}
            for kind, (on_real, on_sandbox) in FLOWS.items()
        }


@pytest.mark.parametrize("kind", list(FLOWS))
def test_a_gate_is_signalled_only_by_node_suspended_as_on_the_real_host(
    observed: dict[str, dict[str, Any]], kind: str
) -> None:
    real, sandbox = observed[kind]["real"], observed[kind]["sandbox"]
    assert real["signals"] == ["node.suspended"], "the real host's own signal"
    assert sandbox["signals"] == real["signals"]
    assert sandbox["signal_payload_keys"] == real["signal_payload_keys"]
    assert real["signal_data_is_payload"] is sandbox["signal_data_is_payload"] is True, "`data` and `payload` alike"
    assert sandbox["event_keys"] == real["event_keys"]


@pytest.mark.parametrize("kind", list(FLOWS))
def test_only_an_external_event_carries_a_token_as_on_the_real_host(
    observed: dict[str, dict[str, Any]], kind: str
) -> None:
    real, sandbox = observed[kind]["real"], observed[kind]["sandbox"]
    assert ("interruptToken" in real["signal_payload_keys"]) is (kind == "external")
    assert sandbox["snapshot_interrupt_keys"] == real["snapshot_interrupt_keys"]
    assert sandbox["snapshot_payload_keys"] == real["snapshot_payload_keys"] == {"kind", "nodeId", "config"}
    assert sandbox["callback_url"] == real["callback_url"] == ("/v1/interrupts" if kind == "external" else "")


def test_the_token_surface_answers_as_on_the_real_host(observed: dict[str, dict[str, Any]]) -> None:
    """No token inspect (404), the run-scoped path refuses an external event (404), a token resolve answers
    `{runId, nodeId, status}`, and a used token is 404 `interrupt_not_found`."""
    real, sandbox = observed["external"]["real"], observed["external"]["sandbox"]
    assert real["inspect"] == sandbox["inspect"] == 404
    assert real["run_scoped"] == sandbox["run_scoped"] == (404, "interrupt_not_found")
    assert real["answer"] == sandbox["answer"] == (200, {"runId", "nodeId", "status"})
    assert real["token_status_waits"] is sandbox["token_status_waits"] is False
    assert real["token_again"] == sandbox["token_again"] == (404, "interrupt_not_found")


@pytest.mark.parametrize("kind", ["approval", "clarification", "rejection"])
def test_a_run_scoped_answer_reads_as_on_the_real_host(observed: dict[str, dict[str, Any]], kind: str) -> None:
    real, sandbox = observed[kind]["real"], observed[kind]["sandbox"]
    assert real["answer"] == sandbox["answer"] == (200, {"runId", "status", "interrupt"})
    assert sandbox["interrupt_keys"] == real["interrupt_keys"]
    assert real["outcome"] == sandbox["outcome"] == ("rejected" if kind == "rejection" else "accepted")
    assert sandbox["vote_keys"] == real["vote_keys"] == {"action", "timestamp"}


@pytest.mark.parametrize("kind", ["approval", "clarification", "external"])
def test_after_the_answer_the_events_and_the_poll_read_as_on_the_real_host(
    observed: dict[str, dict[str, Any]], kind: str
) -> None:
    real, sandbox = observed[kind]["real"], observed[kind]["sandbox"]
    assert real["after_types"] == ["node.resumed", "node.completed", "run.resumed"]
    assert sandbox["after_types"] == real["after_types"]
    assert [t for t, _ in real["resumed"]] == ["node.resumed"]
    assert sandbox["resumed"] == real["resumed"]
    assert real["ends"] == sandbox["ends"] == "run.completed"
    assert real["status_at_end"] == sandbox["status_at_end"] == "completed"
    assert sandbox["poll_keys"] == real["poll_keys"] == {"runId", "events", "lastEventSeq", "runStatus", "isTerminal"}


def test_a_rejection_completes_the_node_and_fails_the_run_as_on_the_real_host(
    observed: dict[str, dict[str, Any]],
) -> None:
    """No `node.resumed` after a reject: the node completes with `{outcome}` and the run fails."""
    real, sandbox = observed["rejection"]["real"], observed["rejection"]["sandbox"]
    assert real["after_types"] == sandbox["after_types"] == ["node.completed", "run.failed"]
    assert real["status_at_end"] == sandbox["status_at_end"] == "failed"
