"""OpenWOP event stream and poll: framing, gates on an open stream, resume, modes, host variants."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from sandbox_wire import Frame, client_for, collect, frames, start_run, wait_for_event

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

SSE = {"Accept": "text/event-stream"}


async def test_the_approval_stream_continues_on_the_same_connection_after_the_gate(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client, client_for(sandbox) as other:
        run_id = await start_run(client, "approval-demo")
        received: list[Frame] = []
        keepalives_while_waiting = 0
        with anyio.fail_after(5):
            async with client.stream("GET", f"/v1/runs/{run_id}/events", headers=SSE) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                async for frame in frames(response):
                    if frame.comment is not None:
                        assert frame.comment == "keepalive"
                        if received and received[-1].event == "node.suspended":
                            keepalives_while_waiting += 1
                            if keepalives_while_waiting == 2:
                                answer = {"resumeValue": {"action": "accept", "decidedAt": "2026-05-01T10:05:00Z"}}
                                resolved = await other.post(f"/v1/runs/{run_id}/interrupts/approve", json=answer)
                                assert resolved.status_code == 200
                        continue
                    received.append(frame)
    docs = [f.json() for f in received]
    assert [int(f.id or -1) for f in received] == list(range(len(received)))
    assert all(f.event == doc["type"] for f, doc in zip(received, docs, strict=True))
    assert all(
        doc["schemaVersion"] == 1 and doc["sequence"] == int(f.id or -1) for f, doc in zip(received, docs, strict=True)
    )
    assert all({"eventId", "runId", "type", "payload", "timestamp", "sequence"} <= set(doc) for doc in docs)
    types = [doc["type"] for doc in docs]
    gate = types.index("interrupt.requested")
    assert types[gate + 1] == "node.suspended"
    assert types[gate + 2] == "interrupt.resolved"
    assert types[-1] == "run.completed"
    requested = docs[gate]["payload"]
    assert {"runId", "nodeId", "interruptId", "kind", "key", "data", "requestedAt"} <= set(requested)
    assert requested["data"]["actions"] == ["accept", "reject", "refine"]
    started = [doc["payload"] for doc in docs if doc["type"] == "node.started"]
    assert [(p["index"], p["total"], p["name"]) for p in started][1] == (2, 5, "Research")
    usage = next(doc["payload"] for doc in docs if doc["type"] == "provider.usage")
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert "costEstimateUsd" in usage
    assert docs[-1]["payload"]["outputs"]["result"] == "Announcement published."


async def test_last_event_id_resumes_at_the_next_sequence(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo")
        await wait_for_event(client, run_id, "run.completed")
        async with client.stream("GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "4"}) as response:
            resumed = await collect(response)
        async with client.stream("GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "99"}) as response:
            past_the_end = await collect(response)
    assert resumed[0].id == "5"
    assert resumed[-1].event == "run.completed"
    assert past_the_end == []


async def test_poll_returns_events_after_the_last_sequence_and_completion(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo")
        await wait_for_event(client, run_id, "run.completed")
        everything = (await client.get(f"/v1/runs/{run_id}/events/poll", params={"timeout": 1})).json()
        tail = (await client.get(f"/v1/runs/{run_id}/events/poll", params={"lastSequence": 8})).json()
        bad = await client.get(f"/v1/runs/{run_id}/events/poll", params={"lastSequence": "x"})
    assert everything["isComplete"] is True
    assert [e["sequence"] for e in everything["events"]] == list(range(len(everything["events"])))
    assert [e["sequence"] for e in tail["events"]] == list(range(9, len(everything["events"])))
    assert bad.status_code == 400


async def test_poll_waits_for_the_next_event_while_suspended(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "clarify-demo")
        suspended = await wait_for_event(client, run_id, "node.suspended")
        idle = (
            await client.get(
                f"/v1/runs/{run_id}/events/poll", params={"lastSequence": suspended["sequence"], "timeout": 0.05}
            )
        ).json()
        answers = {"answers": [{"id": "audience", "answer": "devs"}, {"id": "tone", "answer": "dry"}]}
        await client.post(f"/v1/runs/{run_id}/interrupts/clarify", json={"resumeValue": answers})
        await wait_for_event(client, run_id, "run.completed")
    assert idle == {"events": [], "isComplete": False}


async def test_long_demo_streams_55_steps_with_positions(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "long-demo")
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            received = await collect(response)
    started = [f.json()["payload"] for f in received if f.event == "node.started"]
    assert len(started) == 55
    assert (started[0]["index"], started[-1]["index"], started[-1]["total"]) == (1, 55, 55)
    assert received[-1].event == "run.completed"


async def test_debug_mode_adds_logs_and_mixed_modes_name_the_mode(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "approval-demo")
        first = await wait_for_event(client, run_id, "node.suspended")
        await client.post(f"/v1/runs/{run_id}/interrupts/approve", json={"resumeValue": {"action": "refine"}})
        second = await wait_for_event(client, run_id, "node.suspended", after=first["sequence"])
        await client.post(f"/v1/runs/{run_id}/interrupts/approve", json={"resumeValue": {"action": "accept"}})
        async with client.stream("GET", f"/v1/runs/{run_id}/events", params={"streamMode": "debug"}) as response:
            debug = await collect(response)
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            updates = await collect(response)
        async with client.stream("GET", f"/v1/runs/{run_id}/events", params={"streamMode": "updates,debug"}) as r:
            mixed = await collect(r)
    assert second["payload"]["interruptId"] == "int_2"
    assert "log.appended" in [f.event for f in debug]
    assert "log.appended" not in [f.event for f in updates]
    assert {f.event for f in mixed} == {"updates", "debug"}


async def test_stream_mode_values_is_refused(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo")
        response = await client.get(f"/v1/runs/{run_id}/events", params={"streamMode": "values"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_stream_mode"
    assert response.json()["details"] == {"supported": ["updates", "debug"]}


async def test_a_host_spelling_events_seq_and_data_from_one(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(
        variant={
            "base": "in-memory-host",
            "first_seq": 1,
            "require_accept": True,
            "emit_node_suspended": False,
            "expose_interrupt_token": False,
        }
    )
    async with client_for(sb) as client:
        run_id = await start_run(client, "approval-demo")
        refused = await client.get(f"/v1/runs/{run_id}/events")
        async with client.stream("GET", f"/v1/runs/{run_id}/events", headers=SSE) as response:
            head = await collect(response, stop=lambda f: f.event == "interrupt.requested")
        poll = (await client.get(f"/v1/runs/{run_id}/events/poll", params={"timeout": 0})).json()
        snapshot = (await client.get(f"/v1/runs/{run_id}")).json()
    assert refused.status_code == 406
    first = head[0].json()
    assert head[0].id == "1"
    assert (first["seq"], "sequence" in first, "payload" in first) == (1, False, False)
    assert first["data"]["workflowId"] == "approval-demo"
    assert "node.suspended" not in [e["type"] for e in poll["events"]]
    assert "interruptToken" not in snapshot["interrupt"]


async def test_the_strict_host_keeps_node_started_for_debug(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(variant="strict-spec")
    async with client_for(sb, headers=SSE) as client:
        run_id = await start_run(client, "quick-demo")
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            updates = await collect(response)
        async with client.stream("GET", f"/v1/runs/{run_id}/events", params={"streamMode": "debug"}) as response:
            debug = await collect(response)
    assert "node.started" not in [f.event for f in updates]
    assert [f.event for f in debug].count("node.started") == 3
    assert [int(f.id or 0) for f in updates] == sorted(int(f.id or 0) for f in updates)


async def test_a_host_numbering_from_one_resumes_from_there(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(variant={"base": "sqlite-host", "first_seq": 1})
    async with client_for(sb) as client:
        run_id = await start_run(client, "quick-demo")
        await wait_for_event(client, run_id, "run.completed")
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            full = await collect(response)
        async with client.stream("GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "3"}) as response:
            resumed = await collect(response)
    assert [f.json()["sequence"] for f in full] == list(range(1, len(full) + 1))
    assert resumed[0].id == "4"
