"""Gates answered with the interrupt's signed token when the run-scoped call is not possible (a key without the
`approvals:respond` scope, a gate without a node id), and the token surface's refusals as clear gate errors."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from openwop_harness import DEADLINE, Connect, MakeSandbox, collect, is_gate, start

from runbridge.backends.openwop import OpenWopBackend
from runbridge.core.errors import GateError
from runbridge.core.models import EventKind, Gate, GateAnswer, RunEvent
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

RUN_SCOPED = "POST /v1/runs/{run_id}/interrupts/{node_id}"
BY_TOKEN = "POST /v1/interrupts/{token}"
INSPECT = "GET /v1/interrupts/{token}"
ACCEPT = GateAnswer(decision="accept", values={"decision": "accept"})


async def _gate(backend: OpenWopBackend, workflow: str) -> tuple[str, Gate]:
    run = await start(backend, workflow)
    gate = (await collect(backend, run.run_id, until=is_gate)).last.gate
    assert gate is not None
    return run.run_id, gate


async def _answer(backend: OpenWopBackend, gate: Gate, answer: GateAnswer = ACCEPT) -> dict[str, Any]:
    with anyio.fail_after(DEADLINE):
        return await backend.resolve_gate(gate, answer)


def _mint(sandbox: SandboxServer, gate: Gate, **kwargs: Any) -> str:
    """A token for the gate's interrupt from the host's own signer (to hold one that is expired or inspect-only)."""
    state = sandbox.apps["openwop"].state.openwop  # type: ignore[attr-defined]
    node, interrupt = gate.resume["node_id"], gate.resume["interrupt_id"]
    return sandbox.call(lambda: state.signer.mint(run_id=gate.run_id, node_id=node, interrupt_id=interrupt, **kwargs))


def _with(gate: Gate, **resume: Any) -> Gate:
    return gate.model_copy(update={"resume": {**gate.resume, **resume}})


@pytest.mark.parametrize("workflow", ["approval-demo", "external-demo"])
async def test_a_key_without_the_respond_scope_answers_with_the_token_and_the_run_completes(
    workflow: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"key_can_respond": False})
    backend = connect(sandbox)
    run_id, gate = await _gate(backend, workflow)
    answer = ACCEPT if workflow == "approval-demo" else GateAnswer(decision="accept", values={"eventPayload": "{}"})
    outcome = await _answer(backend, gate, answer)
    assert outcome["resolved"] is True
    assert outcome["via"] == "token"
    rest = await collect(backend, run_id)
    assert rest.last.kind is EventKind.RUN_COMPLETED
    requests = sandbox.stats()["requests"]
    if workflow == "approval-demo":
        assert (requests[RUN_SCOPED], requests[BY_TOKEN]) == (1, 1), "tried run-scoped, got 403, answered by token"
    else:  # an external event with a token is answered through it (a real host answers it nowhere else)
        assert (requests.get(RUN_SCOPED, 0), requests[BY_TOKEN]) == (0, 1)
    # The external gate's token resolve only succeeds with the interrupt's correlation keys repeated (else 422).
    assert sandbox.stats()["statuses"].get("422", 0) == 0


async def test_a_gate_without_a_node_id_is_answered_with_its_token_only(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run_id, gate = await _gate(backend, "approval-demo")
    nodeless = _with(gate, node_id="").model_copy(update={"step": None})
    assert (await _answer(backend, nodeless))["via"] == "token"
    assert (await collect(backend, run_id)).last.kind is EventKind.RUN_COMPLETED
    assert RUN_SCOPED not in sandbox.stats()["requests"]


async def test_a_used_token_is_a_closed_gate_error(sandbox: SandboxServer, connect: Connect) -> None:
    backend = connect(sandbox)
    _, gate = await _gate(backend, "approval-demo")
    nodeless = _with(gate, node_id="").model_copy(update={"step": None})
    await _answer(backend, nodeless)
    with pytest.raises(GateError) as caught:
        await _answer(backend, nodeless)
    assert caught.value.closed is True
    assert "already answered" in str(caught.value)


async def test_an_inspect_only_token_is_refused_clearly_and_the_gate_stays_answerable(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run_id, gate = await _gate(backend, "approval-demo")
    inspect_only = _with(gate, node_id="", token=_mint(sandbox, gate, ttl_seconds=600, intent="inspect"))
    with pytest.raises(GateError) as caught:
        await _answer(backend, inspect_only.model_copy(update={"step": None}))
    assert caught.value.closed is False
    assert "only inspect" in str(caught.value)
    assert (await _answer(backend, gate))["resolved"] is True, "the run-scoped call still answers it"
    assert (await collect(backend, run_id)).last.kind is EventKind.RUN_COMPLETED


async def test_an_expired_token_is_swapped_for_the_snapshots_fresh_one(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"key_can_respond": False})
    backend = connect(sandbox)
    run_id, gate = await _gate(backend, "approval-demo")
    expired = _with(gate, token=_mint(sandbox, gate, ttl_seconds=-1))
    assert (await _answer(backend, expired))["via"] == "token"
    assert (await collect(backend, run_id)).last.kind is EventKind.RUN_COMPLETED
    statuses = sandbox.stats()["statuses"]
    assert statuses["410"] == 1, "the expired token was tried first"


async def test_a_token_that_expires_at_once_is_a_closed_gate_error(make_sandbox: MakeSandbox, connect: Connect) -> None:
    sandbox = make_sandbox(variant={"key_can_respond": False}, token_ttl_seconds=0.0)
    backend = connect(sandbox)
    run_id, gate = await _gate(backend, "approval-demo")
    with pytest.raises(GateError) as caught:
        await _answer(backend, gate)
    assert caught.value.closed is True
    assert "expired" in str(caught.value)
    assert sandbox.stats()["statuses"]["410"] == 2, "the event's token, then the snapshot's fresh one"
    with anyio.fail_after(DEADLINE):
        await backend.cancel_run(run_id)


async def test_without_the_scope_and_without_a_token_the_error_says_what_to_do(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"base": "python-host", "key_can_respond": False})
    backend = connect(sandbox)
    run_id, gate = await _gate(backend, "approval-demo")
    assert "token" not in gate.resume
    with pytest.raises(GateError) as caught:
        await _answer(backend, gate)
    assert caught.value.closed is False
    assert "approvals:respond" in str(caught.value)
    with anyio.fail_after(DEADLINE):
        await backend.cancel_run(run_id)


async def test_the_snapshots_gate_carries_the_token_and_answers_after_a_restart(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"key_can_respond": False})
    run_id, _ = await _gate(connect(sandbox), "clarify-demo")
    restarted = connect(sandbox)  # knows nothing of the run but its id
    with anyio.fail_after(DEADLINE):
        gate = (await restarted.get_run(run_id)).open_gate
    assert gate is not None
    assert gate.resume.get("token")
    values = {field.name: "blue" for field in gate.fields}
    assert (await _answer(restarted, gate, GateAnswer(decision="accept", values=values)))["via"] == "token"
    assert (await collect(restarted, run_id)).last.kind is EventKind.RUN_COMPLETED


async def test_a_gate_whose_event_does_not_say_what_it_asks_is_filled_in_from_its_token(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"interrupt_event_data": False})
    complete = connect(make_sandbox())
    _, expected = await _gate(complete, "approval-demo")
    backend = connect(sandbox)
    run_id, gate = await _gate(backend, "approval-demo")
    assert gate.prompt == expected.prompt
    assert [f.model_dump() for f in gate.fields] == [f.model_dump() for f in expected.fields]
    assert gate.gate_id.endswith(expected.gate_id.split(":", 1)[1]), "the same interrupt, the same gate id shape"
    assert sandbox.stats()["requests"][INSPECT] == 1
    await _answer(backend, gate)
    assert (await collect(backend, run_id)).last.kind is EventKind.RUN_COMPLETED


async def test_the_token_stays_out_of_the_event_data_shown_to_the_model(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    seen: list[RunEvent] = []

    async def keep(event: RunEvent) -> None:
        seen.append(event)

    await collect(backend, run.run_id, on_event=keep, until=lambda e: e.raw_type == "node.suspended")
    gate = next(e.gate for e in seen if e.gate is not None)
    token = gate.resume["token"]
    assert token
    for event in seen:
        assert token not in str(event.data)
        assert token not in event.model_dump_json()
    with anyio.fail_after(DEADLINE):
        await backend.cancel_run(run.run_id)
