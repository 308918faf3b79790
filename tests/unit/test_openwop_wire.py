"""Pure OpenWOP wire readings: where a host's links point (path prefixes, foreign origins), an interrupt's token,
and the shape of the poll request in both protocol versions."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest

from runbridge.backends.openwop import OpenWopBackend
from runbridge.backends.openwop.gates import gate_from_interrupt, interrupt_token
from runbridge.backends.openwop.wire import resolve_link
from runbridge.core.config import Profile
from runbridge.core.models import EventKind, RunEvent
from runbridge.http import HttpClient, RetryPolicy, Secret

BASE = "http://gateway.test:8080/openwop"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        # absolute, on the profile's origin: followed as is
        (f"{BASE}/v1/runs/r1/events", f"{BASE}/v1/runs/r1/events"),
        # origin-relative with the prefix (a host that knows its mount, RFC 3986): made absolute, prefix once
        ("/openwop/v1/runs/r1/events", f"{BASE}/v1/runs/r1/events"),
        # relative to the host's own root (a host unaware of its mount): joined to the base URL later
        ("/v1/runs/r1/events", "/v1/runs/r1/events"),
        # another origin: never followed with the profile's credential
        ("http://internal:9000/v1/runs/r1/events", None),
        ("https://gateway.test:8080/openwop/v1/runs/r1/events", None),
        ("", None),
        (None, None),
    ],
)
def test_a_hosts_events_link_resolves_under_the_profiles_base_url(link: object, expected: str | None) -> None:
    assert resolve_link(BASE, link) == expected


def test_without_a_prefix_a_root_relative_link_is_kept() -> None:
    assert resolve_link("http://127.0.0.1:5000", "/v1/runs/r1/events") == "/v1/runs/r1/events"


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        ({"interruptToken": "abc.def"}, "abc.def"),
        ({"callbackUrl": "https://host/v1/interrupts/abc.def"}, "abc.def"),
        ({"callbackUrl": "https://host/interrupts/abc%2Edef"}, "abc.def"),
        ({"callbackUrl": "https://hooks.example/hitl"}, None),
        ({}, None),
    ],
)
def test_an_interrupts_token_comes_from_the_token_field_or_the_callback_url(
    payload: dict[str, Any], token: str | None
) -> None:
    assert interrupt_token(payload) == token


def test_a_snapshot_interrupt_keeps_its_token_and_correlation_in_the_gates_private_notes() -> None:
    interrupt = {
        "kind": "external-event",
        "nodeId": "payment",
        "interruptId": "int_1",
        "data": {"title": "Pay", "eventType": "payment.settled", "correlation": {"orderId": "order-42"}},
        "callbackUrl": "http://host/v1/interrupts/tok.sig",
    }
    gate = gate_from_interrupt(interrupt, run_id="r1", node_id=None)
    assert gate.resume == {
        "node_id": "payment",
        "interrupt_kind": "external-event",
        "interrupt_id": "int_1",
        "token": "tok.sig",
        "correlation": {"orderId": "order-42"},
    }
    assert "tok.sig" not in gate.model_dump_json(), "the token never reaches what the model sees"


@pytest.mark.anyio
@pytest.mark.parametrize("version", [1, 2])
async def test_the_poll_asks_after_the_cursor_in_each_protocol_version(version: int) -> None:
    seen: list[httpx2.Request] = []
    done = {"runId": "r1", "type": "run.completed", "payload": {"outputs": {}}, "sequence": 8}

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.path.endswith("/events"):
            return httpx2.Response(406, json={"error": "not_acceptable", "message": "no SSE here"})
        if request.url.path.endswith("/.well-known/openwop"):
            return httpx2.Response(404)
        if version == 1:
            return httpx2.Response(200, json={"events": [done], "isComplete": True})
        body = {"runId": "r1", "events": [done], "lastSequence": 8, "status": "completed", "isTerminal": True}
        return httpx2.Response(200, json=body)

    profile = Profile(name="p", family="openwop", base_url="http://h.test", options={"protocol_version": version})
    http = HttpClient(
        profile, secret=Secret("k"), retry=RetryPolicy(attempts=1), transport=httpx2.MockTransport(answer)
    )
    backend = OpenWopBackend(profile, http)
    events: list[RunEvent] = []
    with anyio.fail_after(5):
        async for event in backend.watch("r1", cursor="7"):
            events.append(event)
    await backend.aclose()
    assert [e.kind for e in events] == [EventKind.RUN_COMPLETED]
    poll = next(r for r in seen if r.url.path.endswith("/events/poll"))
    prefix = "/v1" if version == 1 else ""
    assert poll.url.path == f"{prefix}/runs/r1/events/poll"
    # v1 hosts disagree on the cursor's name (the in-memory reference host reads only `since`): both are sent.
    cursor = {"lastSequence": "7", "since": "7"} if version == 1 else {"afterSequence": "7"}
    assert dict(poll.url.params) == cursor | {"timeout": poll.url.params["timeout"]}
    assert 1 <= int(poll.url.params["timeout"]) <= 60
    assert ("openwop-version" in poll.headers) is (version == 2)
