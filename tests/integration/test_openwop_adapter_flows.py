"""The OpenWOP adapter against the sandbox, for every host variant: start, follow, gates, cancel, fork, targets.

Real hosts disagree on `seq`/`sequence`, `payload`/`data`, the first sequence, relative or absolute `eventsUrl`,
the `Accept` header, the resolve response and the already-resolved status (docs/backends/openwop.md); every preset in
the sandbox's `VARIANTS` is one such host, and the adapter must give the same normalised answers on each.
"""

from __future__ import annotations

import anyio
import pytest
from openwop_harness import DEADLINE, Connect, MakeSandbox, collect, is_gate, logged_seqs, start, strictly_increasing

from runbridge.core.errors import CursorError, GateError, InputError, NotFoundError
from runbridge.core.models import EventKind, GateAnswer, RunEvent, RunStatus
from runbridge.sandbox import VARIANTS, SandboxServer

pytestmark = pytest.mark.anyio

ALL_VARIANTS = sorted(VARIANTS)


def _accept(decision: str = "accept", **values: str) -> GateAnswer:
    return GateAnswer(decision="accept", values={"decision": decision, **values})


# -- 1. every variant: start → events → gate → resolve → complete ------------------------------------------------


@pytest.mark.parametrize("variant", ALL_VARIANTS)
async def test_an_approval_run_streams_in_order_opens_one_gate_and_completes_after_accepting_on_every_host(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=variant)
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    assert run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
    answers: list[dict[str, object]] = []

    async def answer(event: RunEvent) -> None:
        if event.kind is EventKind.GATE_OPENED:
            assert event.gate is not None
            answers.append(await backend.resolve_gate(event.gate, _accept(feedback="ship it")))

    watched = await collect(backend, run.run_id, on_event=answer)

    first = VARIANTS[variant].first_seq
    assert watched.seqs[0] == first
    assert strictly_increasing(watched.seqs)
    assert watched.seqs == await logged_seqs(backend, run.run_id), "every logged event exactly once"
    assert watched.events[0].kind is EventKind.RUN_STARTED
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert watched.last.run_id == run.run_id
    assert sum(e.terminal for e in watched.events) == 1

    gates = watched.of_kind(EventKind.GATE_OPENED)
    assert len(gates) == 1, "interrupt.requested and node.suspended are one gate"
    gate = gates[0].gate
    assert gate is not None
    assert gate.kind == "approval"
    assert gate.run_id == run.run_id
    assert gate.prompt == "Approve the launch announcement\nThe draft below will be published as is."
    assert [f.name for f in gate.fields] == ["decision", "feedback"]
    assert gate.fields[0].options == ["accept", "reject", "refine"]
    assert gate.fields[0].required
    assert gate.context["artifactData"] == {"words": 420, "headline": "Meet Runbridge 1.0"}
    assert gate.step is not None
    assert (gate.step.id, gate.step.index, gate.step.total) == ("approve", 4, 5)
    if VARIANTS[variant].emit_node_suspended:
        assert "node.suspended" in watched.types

    assert [a["resolved"] for a in answers] == [True]
    resolved_at = watched.types.index(VARIANTS[variant].resolved_event)  # `node.resumed` on the SQLite host
    assert resolved_at > watched.events.index(gates[0])
    assert watched.of_kind(EventKind.GATE_RESOLVED)

    outputs = watched.last.data["outputs"]
    assert outputs["result"] == "Announcement published."
    assert outputs["approve"]["action"] == "accept"
    assert outputs["approve"]["feedback"] == "ship it"

    with anyio.fail_after(DEADLINE):
        snapshot = await backend.get_run(run.run_id)
    assert snapshot.run_id == run.run_id
    assert snapshot.target_id == "approval-demo"
    assert snapshot.status is RunStatus.COMPLETED
    assert snapshot.outputs == outputs
    assert snapshot.open_gate is None
    assert snapshot.error is None

    stats = sandbox.stats()
    assert stats["runs_created"] == 1
    assert stats["resolves"] == 1
    assert stats["stream_connections"] == 1, "one undisturbed connection carries the whole run"


@pytest.mark.parametrize("variant", ALL_VARIANTS)
async def test_a_waiting_run_shows_its_open_gate_on_the_snapshot_on_every_host(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    backend = connect(make_sandbox(variant=variant))
    run = await start(backend, "approval-demo")
    seen = (await collect(backend, run.run_id, until=is_gate)).events
    with anyio.fail_after(DEADLINE):
        snapshot = await backend.get_run(run.run_id)
    assert snapshot.status is RunStatus.WAITING
    assert snapshot.raw_status == "waiting-approval"
    assert snapshot.open_gate is not None
    assert seen[-1].gate is not None
    assert snapshot.open_gate.gate_id == seen[-1].gate.gate_id, "the stream and the snapshot name the same gate"
    with anyio.fail_after(DEADLINE):
        await backend.resolve_gate(snapshot.open_gate, _accept())
    rest = await collect(backend, run.run_id, cursor=seen[-1].seq)
    assert int(rest.events[0].seq) == int(seen[-1].seq) + 1, "a cursor resumes right after the event it names"
    assert rest.last.kind is EventKind.RUN_COMPLETED


async def test_a_run_without_gates_completes_with_its_outputs_and_steps_are_named(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "quick-demo")
    watched = await collect(backend, run.run_id)
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert watched.last.data["outputs"]["result"] == "The answer is 42."
    started = [e.step for e in watched.of_kind(EventKind.STEP_STARTED)]
    assert [(s.id, s.name, s.index, s.total) for s in started if s] == [
        ("greet", "Greet", 1, 3),
        ("compute", "Compute", 2, 3),
        ("finish", "Finish", 3, 3),
    ]
    usage = [e.usage for e in watched.of_kind(EventKind.USAGE)]
    assert [u.total_tokens if u else None for u in usage] == [180]


async def test_a_failing_run_ends_the_watch_with_run_failed_and_the_snapshot_has_the_error(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "failing-demo")
    watched = await collect(backend, run.run_id)
    assert watched.last.kind is EventKind.RUN_FAILED
    assert "upstream API answered 503" in watched.last.text
    with anyio.fail_after(DEADLINE):
        snapshot = await backend.get_run(run.run_id)
    assert snapshot.status is RunStatus.FAILED
    assert snapshot.error_code == "node_execution_failed"


# -- 2. clarification, external event, decline ---------------------------------------------------------------------


@pytest.mark.parametrize("variant", ALL_VARIANTS)
async def test_a_clarification_gate_asks_each_question_and_its_answers_reach_the_run(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    backend = connect(make_sandbox(variant=variant))
    run = await start(backend, "clarify-demo")

    async def answer(event: RunEvent) -> None:
        if event.gate is not None:
            assert event.gate.kind == "clarification"
            assert [(f.name, f.label, f.required) for f in event.gate.fields] == [
                ("audience", "Who is the audience?", True),
                ("tone", "Which tone should the brief use?", True),
            ]
            with pytest.raises(GateError, match="missing: tone"):
                await backend.resolve_gate(event.gate, GateAnswer(decision="accept", values={"audience": "devs"}))
            values = {"audience": "developers", "tone": "plain"}
            await backend.resolve_gate(event.gate, GateAnswer(decision="accept", values=values))

    watched = await collect(backend, run.run_id, on_event=answer)
    assert len(watched.of_kind(EventKind.GATE_OPENED)) == 1
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert watched.last.data["outputs"]["clarify"] == {"answers": {"audience": "developers", "tone": "plain"}}


@pytest.mark.parametrize("variant", ALL_VARIANTS)
async def test_an_external_event_gate_takes_a_json_payload_and_the_run_continues(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    backend = connect(make_sandbox(variant=variant))
    run = await start(backend, "external-demo")

    async def answer(event: RunEvent) -> None:
        if event.gate is not None:
            assert event.gate.kind == "external"
            assert [f.name for f in event.gate.fields] == ["orderId", "eventPayload"], "a field per correlation key"
            assert 'orderId = "order-42"' in event.gate.prompt
            assert event.gate.context["eventType"] == "payment.settled"
            with pytest.raises(GateError, match="must be JSON"):
                await backend.resolve_gate(
                    event.gate, GateAnswer(decision="accept", values={"eventPayload": "{not json"})
                )
            payload = '{"orderId": "order-42", "amount": 12}'
            await backend.resolve_gate(event.gate, GateAnswer(decision="accept", values={"eventPayload": payload}))

    watched = await collect(backend, run.run_id, on_event=answer)
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert watched.last.data["outputs"]["payment"] == {
        "orderId": "order-42",
        "eventPayload": {"orderId": "order-42", "amount": 12},
    }


@pytest.mark.parametrize("variant", ALL_VARIANTS)
async def test_declining_an_approval_rejects_it_and_the_run_fails_with_interrupt_rejected(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    backend = connect(make_sandbox(variant=variant))
    run = await start(backend, "approval-demo")

    async def decline(event: RunEvent) -> None:
        if event.gate is not None:
            await backend.resolve_gate(event.gate, GateAnswer(decision="decline"))

    watched = await collect(backend, run.run_id, on_event=decline)
    resolved = watched.of_kind(EventKind.GATE_RESOLVED)
    if VARIANTS[variant].resolved_event == "node.resumed":
        assert resolved == [], "the SQLite host resumes nothing after a reject: the run fails"
    else:
        assert [r.data["resumeValue"]["action"] for r in resolved] == ["reject"]
    assert watched.last.kind is EventKind.RUN_FAILED
    with anyio.fail_after(DEADLINE):
        snapshot = await backend.get_run(run.run_id)
    assert snapshot.status is RunStatus.FAILED
    assert snapshot.error_code == "interrupt_rejected"
    assert "Declined by the user" in (snapshot.error or "")


async def test_declining_a_clarification_sends_nothing_and_leaves_the_gate_open(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "clarify-demo")
    gate = (await collect(backend, run.run_id, until=is_gate)).last.gate
    assert gate is not None
    with anyio.fail_after(DEADLINE):
        assert await backend.resolve_gate(gate, GateAnswer(decision="decline")) == {"resolved": False}
        snapshot = await backend.get_run(run.run_id)
    assert snapshot.status is RunStatus.WAITING
    assert sandbox.stats()["resolves"] == 0


async def test_asking_for_changes_reopens_the_approval_as_a_new_gate_that_can_then_be_accepted(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    rounds: list[str] = []

    async def answer(event: RunEvent) -> None:
        if event.gate is not None:
            rounds.append(event.gate.gate_id)
            decision = "refine" if len(rounds) == 1 else "accept"
            await backend.resolve_gate(event.gate, _accept(decision, feedback="shorter, please"))

    watched = await collect(backend, run.run_id, on_event=answer)
    assert len(set(rounds)) == len(rounds) == 2, "each round of the approval is its own gate"
    first = watched.of_kind(EventKind.GATE_RESOLVED)[0].data["resumeValue"]
    assert first["action"] == "refine"
    assert watched.last.kind is EventKind.RUN_COMPLETED


# -- 3. cancel ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ALL_VARIANTS)
async def test_cancelling_a_run_at_its_gate_ends_the_watch_cancelled_and_the_gate_can_no_longer_be_answered(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=variant)
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    cancelled: list[RunStatus] = []

    async def cancel(event: RunEvent) -> None:
        if event.gate is not None:
            cancelled.append((await backend.cancel_run(run.run_id, reason="changed my mind")).status)

    watched = await collect(backend, run.run_id, on_event=cancel)
    assert cancelled == [RunStatus.CANCELLED]
    assert watched.last.kind is EventKind.RUN_CANCELLED
    assert watched.last.data.get("reason") == "changed my mind"
    gate = watched.of_kind(EventKind.GATE_OPENED)[0].gate
    assert gate is not None
    with anyio.fail_after(DEADLINE), pytest.raises(GateError) as caught:
        await backend.resolve_gate(gate, _accept())
    assert caught.value.closed is True
    with anyio.fail_after(DEADLINE):
        snapshot = await backend.get_run(run.run_id)
    assert snapshot.status is RunStatus.CANCELLED
    assert snapshot.open_gate is None
    assert sandbox.stats()["cancels"] == 1
    assert sandbox.stats()["resolves"] == 0


# -- 4. fork ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["reference", "dual-host"])
async def test_a_branch_fork_of_a_finished_run_completes_even_when_discovery_denies_fork(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=variant)
    backend = connect(sandbox)
    with anyio.fail_after(DEADLINE):
        discovery = await backend.http.json("GET", "/.well-known/openwop", action="read discovery")
    assert discovery["replay"]["fork"] is VARIANTS[variant].discovery_says_fork
    source = await start(backend, "quick-demo")
    original = await collect(backend, source.run_id)
    with anyio.fail_after(DEADLINE):
        fork = await backend.fork_run(source.run_id)
    assert fork.run_id != source.run_id
    assert fork.parent_run_id == source.run_id
    forked = await collect(backend, fork.run_id)
    assert forked.last.kind is EventKind.RUN_COMPLETED
    assert forked.last.data["outputs"] == original.last.data["outputs"]
    with anyio.fail_after(DEADLINE):
        snapshot = await backend.get_run(fork.run_id)
    assert snapshot.status is RunStatus.COMPLETED
    assert snapshot.parent_run_id == source.run_id
    assert sandbox.stats()["forks"] == 1


async def test_a_branch_fork_from_an_early_sequence_reruns_the_rest_of_the_workflow(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    source = await start(backend, "approval-demo")

    async def accept(event: RunEvent) -> None:
        if event.gate is not None:
            await backend.resolve_gate(event.gate, _accept())

    await collect(backend, source.run_id, on_event=accept)
    with anyio.fail_after(DEADLINE):
        fork = await backend.fork_run(source.run_id, from_seq=3)
    forked = await collect(backend, fork.run_id, on_event=accept)
    assert len(forked.of_kind(EventKind.GATE_OPENED)) == 1, "the fork reaches the approval gate again"
    assert forked.last.kind is EventKind.RUN_COMPLETED


async def test_forking_an_unknown_run_is_not_found(sandbox: SandboxServer, connect: Connect) -> None:
    backend = connect(sandbox)
    with anyio.fail_after(DEADLINE), pytest.raises(NotFoundError) as caught:
        await backend.fork_run("run_does_not_exist")
    assert caught.value.status == 404


async def test_a_replay_fork_from_a_later_sequence_is_refused_with_a_clear_error(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    source = await start(backend, "quick-demo")
    await collect(backend, source.run_id)
    with anyio.fail_after(DEADLINE), pytest.raises(InputError, match="only from sequence 0"):
        await backend.fork_run(source.run_id, from_seq=4, mode="replay")
    with anyio.fail_after(DEADLINE):
        replay = await backend.fork_run(source.run_id, from_seq=0, mode="replay")
    assert (await collect(backend, replay.run_id)).last.kind is EventKind.RUN_COMPLETED


# -- 9. targets ------------------------------------------------------------------------------------------------------


async def test_list_targets_describes_the_configured_workflows_page_by_page(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox, workflows=["approval-demo", "quick-demo", "no-such-workflow"])
    with anyio.fail_after(DEADLINE):
        first = await backend.list_targets(limit=2)
        assert first.next_cursor is not None
        second = await backend.list_targets(cursor=first.next_cursor, limit=2)
    assert first.total == second.total == 3
    assert [t.id for t in first.items] == ["approval-demo", "quick-demo"]
    assert first.items[0].name == "Launch announcement"
    assert first.items[0].step_count == 5
    assert [s.id for s in first.items[0].steps or []] == ["plan", "research", "draft", "approve", "publish"]
    assert [t.id for t in second.items] == ["no-such-workflow"]
    assert "does not know" in (second.items[0].description or "")
    assert second.next_cursor is None


async def test_describing_an_unknown_workflow_is_not_found(sandbox: SandboxServer, connect: Connect) -> None:
    backend = connect(sandbox)
    with anyio.fail_after(DEADLINE), pytest.raises(NotFoundError) as caught:
        await backend.describe_target("no-such-workflow")
    assert caught.value.status == 404
    assert "workflow" in str(caught.value)
    with anyio.fail_after(DEADLINE):
        target = await backend.describe_target("clarify-demo")
    assert target.id == "clarify-demo"
    assert target.kind == "workflow"
    assert "clarifying questions" in (target.description or "")


async def test_cursors_runbridge_did_not_give_out_are_refused_instead_of_starting_over(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    count = len(backend.profile.workflows)
    with anyio.fail_after(DEADLINE):
        last_page = await backend.list_targets(cursor=str(count), limit=2)
    assert last_page.items == []
    for cursor in ("page-two", "-1", str(count + 1)):
        with pytest.raises(CursorError, match="not one runbridge gave out"):
            await backend.list_targets(cursor=cursor, limit=2)
    run = await start(backend, "quick-demo")
    with pytest.raises(CursorError, match="Invalid cursor 'seven'"):
        await collect(backend, run.run_id, cursor="seven")
    assert sandbox.stats()["stream_connections"] == 0, "nothing was read from the beginning"
