"""Fault injection: 429/503 bursts, dropped, malformed, oversized, slow and quiet streams, the admin endpoints."""

from __future__ import annotations

import json

import httpx2
import pytest
from sandbox_wire import Frame, client_for, collect, frames, start_run, wait_for_event

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio


async def test_a_429_burst_carries_retry_after_and_creates_no_run(sandbox: SandboxServer) -> None:
    sandbox.faults.burst(429, 2, retry_after=3, method="POST", path_prefix="/v1/runs")
    async with client_for(sandbox) as client:
        limited = [await client.post("/v1/runs", json={"workflowId": "quick-demo"}) for _ in range(2)]
        unaffected = await client.get("/v1/workflows/quick-demo")
        created = await client.post("/v1/runs", json={"workflowId": "quick-demo"})
    for response in limited:
        assert response.status_code == 429
        assert response.headers["retry-after"] == "3"
        assert response.json()["error"] == "rate_limited"
        assert response.json()["details"]["retryAfterMs"] == 3000
    assert unaffected.status_code == 200
    assert created.status_code == 201
    stats = sandbox.stats()
    assert stats["runs_created"] == 1
    assert stats["statuses"]["429"] == 2


async def test_a_503_burst_set_over_http_hits_the_next_request(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        configured = await client.post("/_sandbox/faults", json={"bursts": [{"status": 503, "retry_after": 0}]})
        failed = await client.get("/.well-known/openwop")
        fine = await client.get("/.well-known/openwop")
    assert configured.json()["bursts"][0]["status"] == 503
    assert (failed.status_code, failed.headers["retry-after"]) == (503, "0")
    assert failed.json()["error"] == "service_unavailable"
    assert fine.status_code == 200


async def test_the_fault_admin_endpoint_validates_describes_and_clears(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        bad = await client.post("/_sandbox/faults", json={"stream": {"drop_after": "soon"}})
        unknown = await client.post("/_sandbox/faults", json={"explode": True})
        await client.post("/_sandbox/faults", json={"stream": {"drop_after": [2]}, "runs": {"r1": {"malformed_at": 1}}})
        described = (await client.get("/_sandbox/faults")).json()
        cleared = await client.delete("/_sandbox/faults")
        after = (await client.get("/_sandbox/faults")).json()
        workflows = (await client.get("/_sandbox/workflows")).json()["workflows"]
    assert (bad.status_code, unknown.status_code) == (400, 400)
    assert described["stream"]["drop_after"] == [2]
    assert described["runs"]["r1"]["malformed_at"] == 1
    assert cleared.status_code == 204
    assert after["stream"]["drop_after"] == []
    assert {"approval-demo", "long-demo"} <= {w["id"] for w in workflows}


async def test_stats_are_readable_over_http_and_do_not_count_themselves(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo")
        await client.get(f"/v1/runs/{run_id}")
        stats = (await client.get("/_sandbox/stats")).json()
    assert stats["runs_created"] == 1
    assert stats["requests"] == {"POST /v1/runs": 1, "GET /v1/runs/{run_id}": 1}


async def read_until_dropped(client: httpx2.AsyncClient, url: str, headers: dict[str, str]) -> list[Frame]:
    """The frames of one connection, which must end in a transport error (a drop), not a clean close."""
    received: list[Frame] = []

    async def read() -> None:
        async with client.stream("GET", url, headers=headers) as response:
            async for frame in frames(response):
                if frame.comment is None:
                    received.append(frame)

    with pytest.raises(httpx2.TransportError):
        await read()
    return received


async def test_successive_connections_drop_at_the_listed_points(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo", inputs={"_sandbox": {"drop_after": [3, 2]}})
        await wait_for_event(client, run_id, "run.completed")
        url = f"/v1/runs/{run_id}/events"
        first = await read_until_dropped(client, url, {})
        second = await read_until_dropped(client, url, {"Last-Event-ID": first[-1].id or ""})
        async with client.stream("GET", url, headers={"Last-Event-ID": second[-1].id or ""}) as response:
            rest = await collect(response)
    assert [f.id for f in first] == ["0", "1", "2"]
    assert [f.id for f in second] == ["3", "4"]
    assert rest[0].id == "5"
    assert rest[-1].event == "run.completed"
    assert all(f.event not in ("run.completed", "run.failed", "run.cancelled") for f in first + second)
    assert sandbox.stats()["stream_drops"] == 2


async def test_a_live_stream_drops_mid_run_when_set_from_python(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "approval-demo")
        sandbox.faults.for_run(run_id, drop_after=[1])
        dropped = await read_until_dropped(client, f"/v1/runs/{run_id}/events", {})
    assert len(dropped) == 1


async def test_a_malformed_frame_appears_once_before_the_chosen_event(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo", inputs={"_sandbox": {"malformed_at": 2}})
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            received = await collect(response)
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            again = await collect(response)
    broken = received[2]
    assert broken.id is None
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert received[3].id == "2"
    assert received[-1].event == "run.completed"
    assert all(f.id is not None for f in again)


async def test_an_oversized_frame_has_a_data_line_of_the_asked_size(sandbox: SandboxServer) -> None:
    sandbox.faults.set_stream(oversized_at=1, oversized_bytes=100_000)
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo")
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            received = await collect(response)
    big = received[1]
    assert big.id is None
    assert len(big.data) == 100_000
    assert big.json()["type"] == "sandbox.padding"
    assert received[2].id == "1"


async def test_a_quiet_stretch_sends_only_keepalives_before_the_chosen_event(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo")
        await wait_for_event(client, run_id, "run.completed")
        sandbox.faults.for_run(run_id, quiet_at=3, quiet_seconds=0.15)
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            received = [f async for f in frames(response)]
    kinds = ["ka" if f.comment is not None else f.id for f in received]
    gap = kinds[kinds.index("2") + 1 : kinds.index("3")]
    assert len(gap) >= 2
    assert set(gap) == {"ka"}


async def test_slow_frames_arrive_in_full(sandbox: SandboxServer) -> None:
    sandbox.faults.set_stream(slow_frame_seconds=0.005)
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo")
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            received = await collect(response)
    assert [int(f.id or -1) for f in received] == list(range(11))
