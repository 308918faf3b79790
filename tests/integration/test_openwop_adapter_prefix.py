"""A host mounted under a path prefix (`http://gateway/openwop`), as behind a reverse proxy: discovery, runs, the
event stream from an absolute or a relative `eventsUrl`, gates (run-scoped and by token) all stay under the prefix."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from openwop_harness import DEADLINE, Connect, MakeSandbox, RecordingTransport, collect, start

from runbridge.core.models import EventKind, GateAnswer, RunEvent

pytestmark = pytest.mark.anyio

PREFIX = "/openwop"


@pytest.mark.parametrize("events_url", ["absolute", "relative"])
@pytest.mark.parametrize("key_can_respond", [True, False], ids=["run-scoped", "by-token"])
async def test_a_run_with_a_gate_works_end_to_end_under_a_path_prefix(
    events_url: str, key_can_respond: bool, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(root_path=PREFIX, variant={"events_url": events_url, "key_can_respond": key_can_respond})
    assert sandbox.base_url.endswith(PREFIX)
    transport = RecordingTransport()
    backend = connect(sandbox, transport=transport)
    assert (await backend.host_info()).protocol_version == "1.0"
    run = await start(backend, "approval-demo")
    # A relative link written with the prefix (RFC 3986 origin-relative) resolves to the same URL as the absolute one.
    link = backend._events_url[run.run_id]  # pyright: ignore[reportPrivateUsage]
    assert link == f"{sandbox.base_url}/v1/runs/{run.run_id}/events"

    async def accept(event: RunEvent) -> None:
        if event.gate is not None:
            await backend.resolve_gate(event.gate, GateAnswer(decision="accept", values={"decision": "accept"}))

    watched = await collect(backend, run.run_id, on_event=accept)
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert len(watched.of_kind(EventKind.GATE_OPENED)) == 1
    stats = sandbox.stats()
    assert stats["stream_connections"] == 1, "the stream itself was followed (no poll fallback)"
    assert stats["requests"].get("GET /v1/runs/{run_id}/events/poll", 0) == 0
    paths = [r.url.path for r in transport.requests]
    assert paths
    assert all(p.startswith(PREFIX + "/") for p in paths), paths
    assert f"{PREFIX}/v1/runs/{run.run_id}/events" in paths
    if not key_can_respond:
        assert stats["requests"]["POST /v1/interrupts/{token}"] == 1


async def test_outside_the_prefix_the_gateway_answers_404(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(root_path=PREFIX)
    origin = sandbox.base_url.removesuffix(PREFIX)
    async with httpx2.AsyncClient(headers=sandbox.headers) as client:
        with anyio.fail_after(DEADLINE):
            outside = await client.get(f"{origin}/.well-known/openwop")
            inside = await client.get(f"{sandbox.base_url}/.well-known/openwop")
    assert outside.status_code == 404
    assert inside.status_code == 200
