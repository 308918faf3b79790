"""OpenWOP interrupts: resolve shapes and errors per host variant, legacy bodies, signed tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from sandbox_wire import client_for, start_run, wait_for_event

from runbridge.sandbox import SandboxServer, TokenSigner

pytestmark = pytest.mark.anyio

SECRET = b"sandbox-test-secret"


async def gated_run(
    client: httpx2.AsyncClient, workflow_id: str = "approval-demo", signal: str = "interrupt.requested"
) -> tuple[str, dict[str, Any]]:
    """A run of `workflow_id` waiting at its gate, and the event that said so (`node.suspended` on the SQLite host)."""
    run_id = await start_run(client, workflow_id)
    requested = await wait_for_event(client, run_id, signal)
    return run_id, requested


def resolve(client: httpx2.AsyncClient, run_id: str, node: str, value: Any, **kw: Any) -> Any:
    return client.post(f"/v1/runs/{run_id}/interrupts/{node}", json={"resumeValue": value}, **kw)


async def test_a_reject_fails_the_run_with_interrupt_rejected(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id, _ = await gated_run(client)
        answered = await resolve(client, run_id, "approve", {"action": "reject", "feedback": "Not now"})
        failed = await wait_for_event(client, run_id, "run.failed")
    assert answered.json() == {"runId": run_id, "nodeId": "approve", "status": "waiting-approval"}
    assert failed["payload"]["error"] == {"code": "interrupt_rejected", "message": "Approve was rejected: Not now"}


async def test_an_action_outside_the_list_is_400_and_the_gate_stays_open(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id, _ = await gated_run(client)
        refused = await resolve(client, run_id, "approve", {"action": "publish-anyway"})
        no_value = await client.post(f"/v1/runs/{run_id}/interrupts/approve", json={"action": "accept"})
        snapshot = (await client.get(f"/v1/runs/{run_id}")).json()
    assert refused.status_code == 400
    assert refused.json()["error"] == "validation_error"
    assert no_value.status_code == 400
    assert snapshot["status"] == "waiting-approval"


async def test_a_second_resolve_is_409_on_the_reference_host(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id, _ = await gated_run(client)
        await resolve(client, run_id, "approve", {"action": "accept"})
        again = await resolve(client, run_id, "approve", {"action": "accept"})
        never = await resolve(client, run_id, "draft", {"action": "accept"})
        no_run = await resolve(client, "run_nope", "approve", {"action": "accept"})
    assert (again.status_code, again.json()["error"]) == (409, "interrupt_already_resolved")
    assert (never.status_code, never.json()["error"]) == (404, "interrupt_not_found")
    assert (no_run.status_code, no_run.json()["error"]) == (404, "run_not_found")


async def test_a_second_resolve_is_404_on_the_python_host(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(variant="python-host")
    async with client_for(sb) as client:
        run_id = await start_run(client, "approval-demo")
        await wait_for_event(client, run_id, "interrupt.requested")
        first = await resolve(client, run_id, "approve", {"action": "accept", "decidedBy": "ana"})
        again = await resolve(client, run_id, "approve", {"action": "accept"})
    assert first.json()["interrupt"]["votes"][0]["decidedBy"] == "ana"
    assert (again.status_code, again.json()["error"]) == (404, "interrupt_not_found")


async def test_the_sqlite_host_answers_with_the_interrupt_outcome(make_sandbox: Callable[..., SandboxServer]) -> None:
    """As the real host: `{runId, status, interrupt: {kind, nodeId, outcome, votes}}`, the outcome in the past
    tense, no interrupt id (the host names none)."""
    sb = make_sandbox(variant="sqlite-host")
    async with client_for(sb) as client:
        run_id, _ = await gated_run(client, signal="node.suspended")
        answered = (
            await resolve(client, run_id, "approve", {"action": "accept", "decidedAt": "2026-05-01T10:05:00Z"})
        ).json()
        rejected_run, _ = await gated_run(client, signal="node.suspended")
        rejected = (await resolve(client, rejected_run, "approve", {"action": "reject"})).json()
    assert answered["runId"] == run_id
    assert answered["status"] == "running"
    assert answered["interrupt"] == {
        "kind": "approval",
        "nodeId": "approve",
        "outcome": "accepted",
        "votes": [{"action": "accept", "timestamp": answered["interrupt"]["votes"][0]["timestamp"]}],
    }
    assert rejected["interrupt"]["outcome"] == "rejected"


async def test_resolving_after_a_cancel_is_404_or_422_by_host(make_sandbox: Callable[..., SandboxServer]) -> None:
    for variant, status, code in (
        ("reference", 404, "interrupt_not_found"),
        ("strict-spec", 422, "interrupt_cancelled"),
    ):
        sb = make_sandbox(variant=variant)
        async with client_for(sb, headers={"Accept": "text/event-stream"}) as client:
            run_id, _ = await gated_run(client)
            await client.post(f"/v1/runs/{run_id}/cancel")
            late = await resolve(client, run_id, "approve", {"action": "accept"})
        assert (late.status_code, late.json()["error"]) == (status, code), variant


async def test_legacy_decisions_are_normalised(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        approved, _ = await gated_run(client)
        await resolve(client, approved, "approve", {"decision": "approved"})
        rejected, _ = await gated_run(client)
        await resolve(client, rejected, "approve", {"decision": "rejected"})
        assert (await wait_for_event(client, approved, "run.completed"))["type"] == "run.completed"
        failed = await wait_for_event(client, rejected, "run.failed")
    assert failed["payload"]["error"]["code"] == "interrupt_rejected"


async def test_clarification_answers_are_accepted_as_a_map_too(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id, requested = await gated_run(client, "clarify-demo")
        partial = await resolve(client, run_id, "clarify", {"answers": {"audience": "devs"}})
        full = await resolve(client, run_id, "clarify", {"answers": {"audience": "devs", "tone": "dry"}})
        done = await wait_for_event(client, run_id, "run.completed")
    assert requested["payload"]["kind"] == "clarification"
    assert [q["id"] for q in requested["payload"]["data"]["questions"]] == ["audience", "tone"]
    assert partial.status_code == 400
    assert full.json()["status"] == "waiting-input"
    assert done["payload"]["outputs"]["clarify"] == {"answers": {"audience": "devs", "tone": "dry"}}


async def test_an_input_form_is_asked_as_clarification_questions(sandbox: SandboxServer) -> None:
    async with client_for(sandbox) as client:
        run_id, requested = await gated_run(client, "input-demo")
        wrong = await resolve(client, run_id, "triage", {"answers": [{"id": "owner", "answer": "ana"}]})
        answers = [{"id": "owner", "answer": "ana"}, {"id": "priority", "answer": "high"}]
        right = await resolve(client, run_id, "triage", {"answers": answers})
    questions = requested["payload"]["data"]["questions"]
    assert questions[1]["schema"] == {"type": "string", "enum": ["low", "normal", "high"]}
    assert wrong.status_code == 400
    assert right.status_code == 200


async def test_a_resolve_with_the_same_idempotency_key_is_replayed(sandbox: SandboxServer) -> None:
    headers = {"Idempotency-Key": "resolve-once"}
    async with client_for(sandbox) as client:
        run_id, _ = await gated_run(client)
        first = await resolve(client, run_id, "approve", {"action": "accept"}, headers=headers)
        again = await resolve(client, run_id, "approve", {"action": "accept"}, headers=headers)
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert again.headers["openwop-idempotent-replay"] == "true"
    assert sandbox.stats()["resolves"] == 1


async def test_a_token_inspects_and_resolves_without_a_key(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(token_secret=SECRET)
    async with client_for(sb) as client, httpx2.AsyncClient(base_url=sb.base_url) as anonymous:
        run_id, requested = await gated_run(client)
        token = requested["payload"]["interruptToken"]
        inspected = await anonymous.get(f"/v1/interrupts/{token}")
        resolved = await anonymous.post(f"/v1/interrupts/{token}", json={"resumeValue": {"action": "accept"}})
        reused = await anonymous.post(f"/v1/interrupts/{token}", json={"resumeValue": {"action": "accept"}})
        await wait_for_event(client, run_id, "run.completed")
    assert inspected.status_code == 200
    assert (inspected.json()["kind"], inspected.json()["data"]["actions"]) == (
        "approval",
        ["accept", "reject", "refine"],
    )
    assert (resolved.status_code, resolved.json()) == (200, {})
    assert (reused.status_code, reused.json()["error"]) == (409, "interrupt_already_resolved")


async def test_bad_expired_and_inspect_only_tokens_are_refused(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(token_secret=SECRET)
    signer = TokenSigner(SECRET)
    async with client_for(sb) as client:
        run_id, requested = await gated_run(client)
        ids = {"run_id": run_id, "node_id": "approve", "interrupt_id": requested["payload"]["interruptId"]}
        expired = signer.mint(**ids, ttl_seconds=-1)
        inspect_only = signer.mint(**ids, ttl_seconds=60, intent="inspect")
        forged = TokenSigner(b"other").mint(**ids, ttl_seconds=60)
        body = {"resumeValue": {"action": "accept"}}
        answers = [
            await client.get(f"/v1/interrupts/{expired}"),
            await client.post(f"/v1/interrupts/{inspect_only}", json=body),
            await client.post(f"/v1/interrupts/{forged}", json=body),
            await client.get("/v1/interrupts/garbage"),
        ]
        allowed = await client.get(f"/v1/interrupts/{inspect_only}")
    assert [(r.status_code, r.json()["error"]) for r in answers] == [
        (410, "interrupt_expired"),
        (403, "forbidden"),
        (401, "interrupt_token_invalid"),
        (401, "interrupt_token_invalid"),
    ]
    assert allowed.status_code == 200


async def test_a_token_resolve_must_repeat_the_correlation_keys(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(token_secret=SECRET)
    async with client_for(sb) as client:
        run_id, requested = await gated_run(client, "external-demo")
        token = requested["payload"]["interruptToken"]
        missing = await client.post(f"/v1/interrupts/{token}", json={"resumeValue": {"eventPayload": {}}})
        value = {"eventPayload": {"orderId": "order-42", "amount": 12}}
        matching = await client.post(f"/v1/interrupts/{token}", json={"resumeValue": value})
        done = await wait_for_event(client, run_id, "run.completed")
    assert requested["payload"]["kind"] == "external-event"
    assert requested["payload"]["data"]["correlation"] == {"orderId": "order-42"}
    assert (missing.status_code, missing.json()["error"]) == (422, "correlation_mismatch")
    assert matching.status_code == 200
    assert done["payload"]["outputs"]["payment"] == value


async def test_the_snapshot_carries_a_working_callback_url(make_sandbox: Callable[..., SandboxServer]) -> None:
    sb = make_sandbox(token_secret=SECRET)
    async with client_for(sb) as client:
        run_id, _ = await gated_run(client)
        interrupt = (await client.get(f"/v1/runs/{run_id}")).json()["interrupt"]
        answered = await client.post(interrupt["callbackUrl"], json={"resumeValue": {"action": "accept"}})
    assert interrupt["callbackUrl"].startswith(f"{sb.base_url}/v1/interrupts/")
    assert answered.status_code == 200


async def test_the_sqlite_host_variant_shows_config_and_takes_only_string_answers_and_tokens_for_events(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    """As the real SQLite reference host: `config` on events, `payload.config` on snapshots, a string for every
    question (422 otherwise, a list included), and external events answered only through their token."""
    sb = make_sandbox(variant="sqlite-host", token_secret=SECRET)
    async with client_for(sb) as client:
        run_id, requested = await gated_run(client, "clarify-demo", "node.suspended")
        snapshot = (await client.get(f"/v1/runs/{run_id}")).json()["interrupt"]
        listed = [{"id": "audience", "answer": "devs"}, {"id": "tone", "answer": "dry"}]
        as_list = await resolve(client, run_id, "clarify", {"answers": listed})
        not_text = await resolve(client, run_id, "clarify", {"answers": {"audience": "devs", "tone": 3}})
        taken = await resolve(client, run_id, "clarify", {"answers": {"audience": "devs", "tone": "dry"}})
        event_run, event = await gated_run(client, "external-demo", "node.suspended")
        run_scoped = await resolve(client, event_run, "payment", {"orderId": "order-42", "eventPayload": {}})
        token = event["payload"]["interruptToken"]
        by_token = await client.post(f"/v1/interrupts/{token}", json={"resumeValue": {"orderId": "order-42"}})
    assert "data" not in requested["payload"]
    assert [q["id"] for q in requested["payload"]["config"]["questions"]] == ["audience", "tone"]
    assert "data" not in snapshot
    assert snapshot["payload"]["config"]["questions"] == requested["payload"]["config"]["questions"]
    assert (as_list.status_code, as_list.json()["error"]) == (422, "validation_error")
    assert not_text.status_code == 422
    assert taken.status_code == 200
    assert (run_scoped.status_code, run_scoped.json()["error"]) == (404, "interrupt_not_found")
    assert by_token.status_code == 200


async def test_the_sqlite_host_signals_gates_with_node_suspended_and_tokens_only_external_events(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    """As the real SQLite reference host (compared with it in tests/real/test_openwop_sqlite_variant.py): no
    `interrupt.requested`, `node.suspended` carrying `{kind, nodeId, config}` in `data` and `payload`, a token (and
    relative callback URL) for an external event only, no token inspect, a token resolve answering `{runId, nodeId,
    status}` (404 once used), and a poll saying `lastEventSeq`, `runStatus` and `isTerminal`."""
    sb = make_sandbox(variant="sqlite-host", token_secret=SECRET)
    async with client_for(sb) as client:
        approval_run, approval = await gated_run(client, "approval-demo", "node.suspended")
        page = (await client.get(f"/v1/runs/{approval_run}/events/poll", params={"timeout": 0})).json()
        event_run, event = await gated_run(client, "external-demo", "node.suspended")
        token = event["payload"]["interruptToken"]
        inspected = await client.get(f"/v1/interrupts/{token}")
        value = {"resumeValue": {"orderId": "order-42", "eventPayload": {}}}
        answered = await client.post(f"/v1/interrupts/{token}", json=value)
        again = await client.post(f"/v1/interrupts/{token}", json=value)
        resumed = await wait_for_event(client, event_run, "node.resumed")
    assert "interrupt.requested" not in [e["type"] for e in page["events"]]
    assert set(approval["payload"]) == {"kind", "nodeId", "config"}
    assert approval["data"] == approval["payload"]
    assert approval["seq"] == approval["sequence"]
    assert set(event["payload"]) == {"kind", "nodeId", "config", "interruptToken", "callbackUrl"}
    assert event["payload"]["callbackUrl"] == f"/v1/interrupts/{token}"
    assert set(page) == {"runId", "events", "lastEventSeq", "runStatus", "isTerminal"}
    assert (page["lastEventSeq"], page["runStatus"], page["isTerminal"]) == (
        page["events"][-1]["sequence"],
        "waiting-approval",
        False,
    )
    assert (inspected.status_code, inspected.json()["error"]) == (404, "not_found")
    assert answered.status_code == 200
    assert set(answered.json()) == {"runId", "nodeId", "status"}
    assert answered.json()["nodeId"] == "payment"
    assert (again.status_code, again.json()["error"]) == (404, "interrupt_not_found")
    assert resumed["payload"] == {"action": "external-event"}


async def test_other_hosts_keep_interrupt_requested_and_tokens_for_every_gate(sandbox: SandboxServer) -> None:
    async with client_for(sandbox, headers={"Accept": "text/event-stream"}) as client:
        run_id, requested = await gated_run(client)
        page = (await client.get(f"/v1/runs/{run_id}/events/poll", params={"timeout": 0})).json()
        token = requested["payload"]["interruptToken"]
        inspected = await client.get(f"/v1/interrupts/{token}")
        answered = await client.post(f"/v1/interrupts/{token}", json={"resumeValue": {"action": "accept"}})
    assert [e["type"] for e in page["events"]][-2:] == ["interrupt.requested", "node.suspended"]
    assert set(page) == {"events", "isComplete"}
    assert inspected.status_code == 200
    assert answered.json() == {}
