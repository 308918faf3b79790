"""The orchestrations family from the command line: `runbridge sandbox --family orchestrations` serves the Synapse
API, and `runbridge demo --family orchestrations` walks the example gated orchestration."""

from __future__ import annotations

import io
import threading

import httpx2
import pytest

from runbridge.cli.demo import run_demo
from runbridge.sandbox import DEFAULT_API_KEY, run_sandbox


def test_the_sandbox_command_serves_the_orchestrations_family_with_its_variant() -> None:
    lines: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    def record(line: str) -> None:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            ready.set()

    def serve() -> None:
        run_sandbox(family="orchestrations", variant="scale", speed=0, print_fn=record, stop=stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert ready.wait(10), lines
        url = lines[0].rsplit(" at ", 1)[1]
        headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        with httpx2.Client(base_url=url, headers=headers, timeout=5) as client:
            listed = client.get("/api/v1/orchestrations").json()
            queued = client.post("/api/v2/orchestrations/orch-quick-summary/run", json={"message": "x"})
    finally:
        stop.set()
        thread.join(10)
    assert lines[0].startswith("runbridge sandbox: orchestrations at http://127.0.0.1:")
    assert "orch-research-report" in {o["id"] for o in listed}
    assert (queued.status_code, queued.json()["status"]) == (202, "queued")


def test_the_demo_walks_the_seed_orchestration_through_its_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBRIDGE_DEMO_SANDBOX_KEY", "")  # the demo sets it; restored after the test
    out = io.StringIO()
    status = run_demo(family="orchestrations", interactive=False, answer="approve", speed=0, out=out)
    text = out.getvalue()
    assert status == 0, text
    assert "Sandbox Synapse orchestrations backend listening on" in text
    assert "orch-research-report" in text
    assert "approval-demo" not in text  # only this family's examples are listed
    assert "orch-cost-limit" in text
    assert "calendar-hil-chat" not in text
    assert "Please review the draft article" in text
    assert '→ answering: accept {"decision": "approve", "notes": "demo answer"}' in text
    assert ": completed (you accepted)" in text
    assert "$0.0520" in text
    assert "Usage: $0.0520" in text, "Synapse reports a cost but no tokens: no '0 tokens'"
