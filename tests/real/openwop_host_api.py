"""What a real OpenWOP host says about its own runs, asked directly over HTTP (never through runbridge): the
evidence the real-backend run tests compare runbridge's answers with."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from real_backends import HostProcess

# The workflows the run tests use: each reference host serves them all (the in-memory and Python hosts fail
# `conformance-failure` at once, which is what it is for).
MULTI = "conformance-multi-node"
DELAY = "conformance-delay"
CANCELLABLE = "conformance-cancellable"
FAILURE = "conformance-failure"
NOOP = "conformance-noop"
APPROVAL = "conformance-approval"
RUN_WORKFLOWS = [MULTI, DELAY, CANCELLABLE, FAILURE, NOOP, APPROVAL]


def host_call(host: HostProcess, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """`method path` on the host with the key; (status, decoded JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (a loopback URL of a host the tests started)
        host.base_url + path,
        method=method,
        data=data,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def host_run(host: HostProcess, key: str, run_id: str) -> dict[str, Any]:
    status, doc = host_call(host, key, "GET", f"/v1/runs/{run_id}")
    assert status == 200, (status, doc)
    return doc


def host_events(host: HostProcess, key: str, run_id: str) -> list[tuple[int, str]]:
    """The run's whole event log as the host's own poll lists it: (sequence, type), in order."""
    status, doc = host_call(host, key, "GET", f"/v1/runs/{run_id}/events/poll?timeout=1")
    assert status == 200, (status, doc)
    return [(int(e.get("sequence", e.get("seq"))), str(e["type"])) for e in doc["events"]]


def wait_for_status(host: HostProcess, key: str, run_id: str, wanted: set[str], within: float = 15) -> str:
    """Poll the host (bounded) until the run's status is one of `wanted`; the last status read."""
    deadline = time.monotonic() + within
    status = ""
    while time.monotonic() < deadline:
        status = str(host_run(host, key, run_id)["status"])
        if status in wanted:
            return status
        time.sleep(0.1)  # polls an external server, bounded by the deadline
    return status
