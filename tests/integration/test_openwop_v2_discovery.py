"""runbridge reads the v2 discovery document as the official 2.x client does: capability records
(`{status, since, witness, ...facets}`), not v1 flags. A host serving both versions answers each version's
document to a request in that version (tests/real/test_official_openwop.py runs the official clients on both)."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from openwop_harness import DEADLINE, Connect, MakeSandbox, RecordingTransport

pytestmark = pytest.mark.anyio

V2 = {"protocol_versions": ("2.0",)}
BOTH = {"protocol_versions": ("1.0", "2.0")}


async def test_a_v2_host_advertises_records_and_runbridge_reads_them(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={**V2, "discovery_says_fork": True, "max_event_bytes": 1024 * 1024})
    with anyio.fail_after(DEADLINE):
        found = await connect(sandbox).discovery()
    assert found.doc["replay"]["status"] == "stable"
    assert found.says("replay", "fork") is True
    assert found.says("eventLog", "poll") is True
    assert found.max_event_bytes == 1024 * 1024
    info = found.host_info()
    assert {"replay", "interrupt", "eventLog", "limits"} <= set(info.capabilities)
    assert info.limits["clarificationRounds"] == 3


async def test_a_v2_host_without_a_poll_says_so_in_its_event_log_record(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={**V2, "event_poll": False})
    transport = RecordingTransport()
    backend = connect(sandbox, transport=transport)
    with anyio.fail_after(DEADLINE):
        assert (await backend.discovery()).says("eventLog", "poll") is False
        # runbridge believes it and does not ask the poll endpoint.
        assert await backend.event_page("run_whatever") is None
    assert not any(r.url.path.endswith("/events/poll") for r in transport.requests)


async def test_a_host_serving_both_answers_each_version_its_own_document(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(variant=BOTH)
    async with httpx2.AsyncClient(base_url=sandbox.base_url, timeout=5) as client:
        v1 = (await client.get("/.well-known/openwop")).json()
        v2 = (await client.get("/.well-known/openwop", headers={"OpenWOP-Version": "2.0"})).json()
    assert v1["protocolVersion"] == "1.0"
    assert v1["replay"] == {"fork": False}
    assert v1["eventPoll"] is True
    assert v2["preferredVersion"] == "2.0"
    assert v2["replay"]["status"] == "stable"
    assert v2["replay"]["fork"] is False
    assert "eventPoll" not in v2
