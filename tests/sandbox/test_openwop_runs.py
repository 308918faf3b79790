"""OpenWOP REST surface: discovery, workflows, run creation, idempotency, snapshots, cancel, fork, auth."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest
from sandbox_wire import client_for, collect, start_run, wait_for_event

from runbridge.sandbox import VARIANTS, SandboxServer

pytestmark = pytest.mark.anyio


async def test_discovery_has_the_required_limits_and_denies_fork(sandbox: SandboxServer) -> None:
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as client:  # no key: discovery is public
        response = await client.get("/.well-known/openwop")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    doc = response.json()
    assert doc["protocolVersion"] == "1.0"
    assert {"clarificationRounds", "schemaRounds", "envelopesPerTurn", "maxNodeExecutions"} <= set(doc["limits"])
    assert doc["replay"] == {"fork": False}


async def test_discovery_claims_fork_on_the_dual_host(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(variant="dual-host")
    async with client_for(sb) as client:
        assert (await client.get("/.well-known/openwop")).json()["replay"] == {"fork": True}


async def test_the_sqlite_host_has_no_fork_route(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(variant="sqlite-host")
    async with client_for(sb) as client:
        run_id = (await client.post("/v1/runs", json={"workflowId": "quick-demo"})).json()["runId"]
        refused = await client.post(f"/v1/runs/{run_id}:fork", json={"mode": "branch", "fromSeq": 0})
    assert refused.status_code == 404
    assert refused.json()["error"] == "not_found"


async def test_workflow_definitions_list_nodes_in_order(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        doc = (await client.get("/v1/workflows/approval-demo")).json()
        missing = await client.get("/v1/workflows/nope")
    assert [n["nodeId"] for n in doc["nodes"]] == ["plan", "research", "draft", "approve", "publish"]
    assert doc["nodes"][3]["interruptKind"] == "approval"
    assert missing.status_code == 404
    assert missing.json() == {"error": "workflow_not_found", "message": "Workflow 'nope' not found."}


async def test_create_answers_201_with_absolute_urls(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        response = await client.post("/v1/runs", json={"workflowId": "quick-demo", "inputs": {"n": 1}})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"runId", "status", "eventsUrl", "statusUrl"}
    assert body["status"] == "pending"
    assert body["eventsUrl"] == f"{sandbox.base_url}/v1/runs/{body['runId']}/events"
    assert body["statusUrl"] == f"{sandbox.base_url}/v1/runs/{body['runId']}"


async def test_create_answers_relative_urls_on_the_in_memory_host(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(variant="in-memory-host")
    async with client_for(sb) as client:
        body = (await client.post("/v1/runs", json={"workflowId": "quick-demo"})).json()
    assert body["eventsUrl"] == f"/v1/runs/{body['runId']}/events"


async def test_the_python_host_answers_without_links(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(variant="python-host")
    async with client_for(sb) as client:
        created = await client.post("/v1/runs", json={"workflowId": "quick-demo"})
        snapshot = (await client.get(f"/v1/runs/{created.json()['runId']}")).json()
    assert set(created.json()) == {"runId", "status"}
    assert created.headers["location"] == f"/v1/runs/{created.json()['runId']}"
    assert "eventsUrl" not in snapshot


async def test_create_validates_the_body(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        no_id = await client.post("/v1/runs", json={"inputs": {}})
        bad_json = await client.post("/v1/runs", content=b"{nope", headers={"content-type": "application/json"})
        unknown = await client.post("/v1/runs", json={"workflowId": "nope"})
        bad_faults = await client.post(
            "/v1/runs", json={"workflowId": "quick-demo", "inputs": {"_sandbox": {"drop_after": "x"}}}
        )
    assert [r.status_code for r in (no_id, bad_json, unknown, bad_faults)] == [400, 400, 404, 400]
    assert no_id.json()["error"] == "validation_error"
    assert unknown.json()["error"] == "workflow_not_found"


async def test_an_idempotent_replay_returns_the_same_run_and_creates_no_other(sandbox: SandboxServer) -> None:
    headers = {"Idempotency-Key": "7b0c6d3e-key"}
    async with client_for(sandbox) as client:
        first = await client.post("/v1/runs", json={"workflowId": "quick-demo", "inputs": {"a": 1}}, headers=headers)
        again = await client.post("/v1/runs", json={"inputs": {"a": 1}, "workflowId": "quick-demo"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert "openwop-idempotent-replay" not in first.headers
    assert again.headers["openwop-idempotent-replay"] == "true"
    assert again.json()["runId"] == first.json()["runId"]
    assert sandbox.stats()["runs_created"] == 1
    assert sandbox.stats()["requests"]["POST /v1/runs"] == 2


async def test_the_same_key_with_another_body_is_a_409_mismatch(sandbox: SandboxServer) -> None:
    headers = {"Idempotency-Key": "k-1"}
    async with client_for(sandbox) as client:
        await client.post("/v1/runs", json={"workflowId": "quick-demo"}, headers=headers)
        clash = await client.post("/v1/runs", json={"workflowId": "long-demo"}, headers=headers)
    assert clash.status_code == 409
    assert clash.json()["error"] == "idempotency_key_mismatch"
    assert sandbox.stats()["runs_created"] == 1


async def test_dedup_refuses_a_second_active_run_in_one_scope(sandbox: SandboxServer) -> None:
    body = {"workflowId": "approval-demo", "tenantId": "t1", "scopeId": "order-42"}
    async with client_for(sandbox) as client:
        await client.post("/v1/runs", json=body, headers={"X-Dedup": "enforce"})
        second = await client.post("/v1/runs", json=body, headers={"X-Dedup": "enforce"})
    assert second.status_code == 409
    assert second.json()["error"] == "run_already_active"
    assert second.headers["retry-after"] == "30"


async def test_requests_without_the_key_are_401(sandbox: SandboxServer) -> None:
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as client:
        missing = await client.post("/v1/runs", json={"workflowId": "quick-demo"})
        wrong = await client.get("/v1/runs/x", headers={"Authorization": "Bearer nope"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"
        assert set(response.json()) == {"error", "message"}
    assert sandbox.stats()["runs_created"] == 0


async def test_unversioned_paths_are_400_and_unknown_ones_404(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        unversioned = await client.get("/runs/x")
        unknown = await client.get("/v1/nothing-here")
        missing_run = await client.get("/v1/runs/run_missing")
    assert unversioned.status_code == 400
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"
    assert missing_run.status_code == 404
    assert missing_run.json()["error"] == "run_not_found"


async def test_the_snapshot_shows_the_waiting_interrupt_then_the_outputs(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "approval-demo", tags=["demo"])
        await wait_for_event(client, run_id, "interrupt.requested")
        waiting = (await client.get(f"/v1/runs/{run_id}")).json()
        await client.post(f"/v1/runs/{run_id}/interrupts/approve", json={"resumeValue": {"action": "accept"}})
        await wait_for_event(client, run_id, "run.completed")
        done = (await client.get(f"/v1/runs/{run_id}")).json()
    assert waiting["status"] == "waiting-approval"
    assert waiting["currentNodeId"] == "approve"
    assert waiting["nodeStates"]["approve"] == {"status": "suspended"}
    assert waiting["tags"] == ["demo"]
    interrupt = waiting["interrupt"]
    assert (interrupt["kind"], interrupt["nodeId"], interrupt["interruptId"]) == ("approval", "approve", "int_1")
    assert interrupt["data"]["actions"] == ["accept", "reject", "refine"]
    assert done["status"] == "completed"
    assert done["outputs"]["approve"] == {"action": "accept"}
    assert "interrupt" not in done
    assert done["error"] is None


async def test_a_failed_run_shows_its_error(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "failing-demo")
        failed = await wait_for_event(client, run_id, "run.failed")
        snapshot = (await client.get(f"/v1/runs/{run_id}")).json()
    assert failed["payload"]["error"]["code"] == "node_execution_failed"
    assert failed["payload"]["failedNodeId"] == "fetch"
    assert snapshot["status"] == "failed"
    assert snapshot["error"]["code"] == "node_execution_failed"


async def test_cancel_ends_a_suspended_run_and_closes_its_stream(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "external-demo")
        await wait_for_event(client, run_id, "interrupt.requested")
        cancelled = await client.post(f"/v1/runs/{run_id}/cancel", json={"reason": "stop"})
        again = await client.post(f"/v1/runs/{run_id}/cancel", json={})
        async with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
            frames = await collect(response)
        late = await client.post(
            f"/v1/runs/{run_id}/interrupts/payment", json={"resumeValue": {"eventPayload": {"orderId": "order-42"}}}
        )
    assert cancelled.json() == {"runId": run_id, "status": "cancelled"}
    assert again.status_code == 200
    assert frames[-1].event == "run.cancelled"
    assert frames[-1].json()["payload"]["reason"] == "stop"
    assert late.status_code == 404
    assert late.json()["error"] == "interrupt_not_found"
    assert sandbox.stats()["cancels"] == 1


async def test_cancelling_a_completed_run_is_409(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id = await start_run(client, "quick-demo")
        await wait_for_event(client, run_id, "run.completed")
        response = await client.post(f"/v1/runs/{run_id}/cancel")
    assert response.status_code == 409
    assert response.json()["error"] == "run_terminal"


async def test_branch_fork_works_although_discovery_denies_it(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        source = await start_run(client, "quick-demo")
        await wait_for_event(client, source, "run.completed")
        response = await client.post(f"/v1/runs/{source}:fork", json={"fromSeq": 2, "mode": "branch"})
        assert response.status_code == 201
        fork = response.json()
        async with client.stream("GET", fork["eventsUrl"]) as stream:
            frames = await collect(stream)
        source_frames = (await client.get(f"/v1/runs/{source}/events/poll")).json()["events"]
    assert (fork["sourceRunId"], fork["fromSeq"], fork["mode"]) == (source, 2, "branch")
    assert [f.json()["type"] for f in frames[:3]] == [e["type"] for e in source_frames[:3]]
    assert all(f.json()["runId"] == fork["runId"] for f in frames)
    assert frames[-1].event == "run.completed"
    assert sandbox.stats()["forks"] == 1


async def test_replay_fork_from_a_later_sequence_is_501(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        source = await start_run(client, "quick-demo")
        await wait_for_event(client, source, "run.completed")
        refused = await client.post(f"/v1/runs/{source}:fork", json={"fromSeq": 3, "mode": "replay"})
        replay = await client.post(f"/v1/runs/{source}:fork", json={"fromSeq": 0, "mode": "replay"})
        out_of_range = await client.post(f"/v1/runs/{source}:fork", json={"fromSeq": 500, "mode": "branch"})
    assert refused.status_code == 501
    assert refused.json()["error"] == "fork_from_seq_unsupported"
    assert replay.status_code == 201
    assert out_of_range.status_code == 422


def test_the_presets_cover_every_variant_value() -> None:
    presets = list(VARIANTS.values())
    assert {v.seq_field for v in presets} == {"sequence", "seq"}
    assert {v.payload_field for v in presets} == {"payload", "data"}
    assert {v.first_seq for v in presets} == {0, 1}
    assert {v.events_url for v in presets} == {"absolute", "relative", "none"}
    assert {v.require_accept for v in presets} == {True, False}
    assert {v.resolve_response for v in presets} == {"run_node_status", "interrupt_outcome"}
    assert {v.already_resolved_status for v in presets} == {404, 409}
    assert {v.cancelled_gate_status for v in presets} == {404, 422}
    assert {v.emit_node_suspended for v in presets} == {True, False}
    assert {v.discovery_says_fork for v in presets} == {True, False}
    assert {v.node_started_in_updates for v in presets} == {True, False}
    assert {v.protocol_versions for v in presets} == {("1.0",), ("2.0",), ("1.0", "2.0")}
