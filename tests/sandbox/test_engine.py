"""The scripted engine on its own: no HTTP, the test's own event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from runbridge.sandbox import (
    EXAMPLE_WORKFLOWS,
    Engine,
    EngineEvent,
    ForkInvalid,
    ForkUnsupported,
    GateAlreadyResolved,
    GateCancelled,
    GateNotFound,
    GateSpec,
    GateValidationError,
    RunTerminal,
    Step,
    Workflow,
    WorkflowNotFound,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    async with Engine() as running:
        yield running


async def drain(engine: Engine, run_id: str, after: int = -1) -> list[EngineEvent]:
    with anyio.fail_after(5):
        return [e async for e in engine.events_after(run_id, after)]


async def until(engine: Engine, run_id: str, event_type: str) -> EngineEvent:
    with anyio.fail_after(5):
        async for event in engine.events_after(run_id):
            if event.type == event_type:
                return event
    raise AssertionError(f"the run ended without {event_type}")


def test_example_workflows_have_the_documented_ids() -> None:
    assert set(EXAMPLE_WORKFLOWS) >= {
        "approval-demo",
        "clarify-demo",
        "failing-demo",
        "long-demo",
        "quick-demo",
        "external-demo",
    }
    assert len(EXAMPLE_WORKFLOWS["long-demo"].steps) == 55


async def test_a_quick_run_logs_every_step_in_order_and_completes(engine: Engine) -> None:
    run = engine.start_run("quick-demo", {"x": 1})
    assert run.status == "pending"
    events = await drain(engine, run.id)
    assert [e.seq for e in events] == list(range(len(events)))
    assert [e.type for e in events] == [
        "run.started",
        "step.started",
        "step.completed",
        "step.started",
        "tool.called",
        "tool.result",
        "usage",
        "step.completed",
        "step.started",
        "step.completed",
        "run.completed",
    ]
    compute = events[3]
    assert (compute.step_id, compute.step_name, compute.step_index, compute.step_total) == ("compute", "Compute", 2, 3)
    assert run.status == "completed"
    assert run.outputs == {"result": "The answer is 42."}


async def test_late_subscribers_get_the_backlog_then_the_live_events(engine: Engine) -> None:
    run = engine.start_run("approval-demo")
    await until(engine, run.id, "gate.opened")
    received: list[list[str]] = [[], [], []]

    async def follow(i: int) -> None:
        async for event in engine.events_after(run.id):
            received[i].append(event.type)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(follow, i)
            await until(engine, run.id, "gate.opened")
            engine.answer_gate(run.id, "approve", {"action": "accept"})
    assert received[0] == received[1] == received[2]
    assert received[0][-1] == "run.completed"
    assert "gate.resolved" in received[0]


async def test_events_after_starts_after_the_given_sequence(engine: Engine) -> None:
    run = engine.start_run("quick-demo")
    everything = await drain(engine, run.id)
    assert [e.seq for e in await drain(engine, run.id, 4)] == [e.seq for e in everything[5:]]


async def test_an_approval_outside_the_actions_is_a_validation_error(engine: Engine) -> None:
    run = engine.start_run("approval-demo")
    await until(engine, run.id, "gate.opened")
    with pytest.raises(GateValidationError):
        engine.answer_gate(run.id, "approve", {"action": "ship-it"})
    assert run.status == "waiting-approval"


async def test_a_rejection_fails_the_run_with_interrupt_rejected(engine: Engine) -> None:
    run = engine.start_run("approval-demo")
    await until(engine, run.id, "gate.opened")
    result = engine.answer_gate(run.id, "approve", {"action": "reject", "feedback": "too long"})
    assert result.status_before == "waiting-approval"
    events = await drain(engine, run.id)
    assert events[-1].type == "run.failed"
    assert run.error == {"code": "interrupt_rejected", "message": "Approve was rejected: too long"}


async def test_refine_reopens_the_gate_with_a_new_interrupt(engine: Engine) -> None:
    run = engine.start_run("approval-demo")
    first = await until(engine, run.id, "gate.opened")
    engine.answer_gate(run.id, "approve", {"action": "refine", "feedback": "shorter"})
    with anyio.fail_after(5):
        async for event in engine.events_after(run.id, first.seq):
            if event.type == "gate.opened":
                second = event
                break
    assert (first.payload["interrupt_id"], second.payload["interrupt_id"]) == ("int_1", "int_2")
    engine.answer_gate(run.id, "approve", {"action": "accept"})
    assert (await drain(engine, run.id))[-1].type == "run.completed"


async def test_a_second_answer_is_already_resolved(engine: Engine) -> None:
    run = engine.start_run("approval-demo")
    await until(engine, run.id, "gate.opened")
    engine.answer_gate(run.id, "approve", {"action": "accept"})
    with pytest.raises(GateAlreadyResolved):
        engine.answer_gate(run.id, "approve", {"action": "accept"})
    with pytest.raises(GateNotFound):
        engine.answer_gate(run.id, "draft", {"action": "accept"})


async def test_clarification_needs_every_question_answered(engine: Engine) -> None:
    run = engine.start_run("clarify-demo")
    await until(engine, run.id, "gate.opened")
    assert run.status == "waiting-input"
    with pytest.raises(GateValidationError, match="tone"):
        engine.answer_gate(run.id, "clarify", {"answers": {"audience": "devs"}})
    engine.answer_gate(run.id, "clarify", {"answers": {"audience": "devs", "tone": "dry"}})
    await drain(engine, run.id)
    assert run.outputs is not None
    assert run.outputs["clarify"] == {"answers": {"audience": "devs", "tone": "dry"}}


async def test_cancel_while_suspended_closes_the_gate(engine: Engine) -> None:
    run = engine.start_run("external-demo")
    await until(engine, run.id, "gate.opened")
    assert run.status == "waiting-external"
    assert engine.cancel(run.id, "no longer needed") == "cancelled"
    assert (await drain(engine, run.id))[-1].type == "run.cancelled"
    with pytest.raises(GateCancelled):
        engine.answer_gate(run.id, "payment", {"eventPayload": {}})
    assert engine.cancel(run.id) == "cancelled"


async def test_cancel_while_running_stops_the_run_mid_step(engine: Engine) -> None:
    slow = Workflow("slow", "Slow", steps=(Step("wait", "Wait", delay=3600), Step("after", "After")))
    engine.register(slow)
    engine.speed = 1.0
    run = engine.start_run("slow")
    await until(engine, run.id, "step.started")
    engine.cancel(run.id)
    events = await drain(engine, run.id)
    assert [e.type for e in events] == ["run.started", "step.started", "run.cancelled"]
    assert run.node_states["wait"] == "cancelled"


async def test_cancelling_a_finished_run_is_refused(engine: Engine) -> None:
    run = engine.start_run("quick-demo")
    await drain(engine, run.id)
    with pytest.raises(RunTerminal):
        engine.cancel(run.id)


async def test_a_failing_step_fails_the_run_with_its_error(engine: Engine) -> None:
    run = engine.start_run("failing-demo")
    events = await drain(engine, run.id)
    assert [e.type for e in events][-2:] == ["step.failed", "run.failed"]
    assert events[-2].step_index == 2
    assert run.error is not None
    assert run.error["code"] == "node_execution_failed"
    assert "report" not in run.node_states


async def test_the_cost_limit_fails_the_run_once_exceeded(engine: Engine) -> None:
    run = engine.start_run("budget-demo")
    await drain(engine, run.id)
    assert run.error == {"code": "cost_limit_exceeded", "message": "Cost limit exceeded: $0.012 > max $0.01"}
    per_run = engine.start_run("quick-demo", {"_sandbox": {"max_cost_usd": 0.0001}})
    await drain(engine, per_run.id)
    assert per_run.status == "failed"
    assert "_sandbox" not in per_run.inputs


async def test_long_demo_runs_55_steps(engine: Engine) -> None:
    run = engine.start_run("long-demo")
    events = await drain(engine, run.id)
    started = [e for e in events if e.type == "step.started"]
    assert len(started) == 55
    assert (started[-1].step_index, started[-1].step_total) == (55, 55)
    assert sum(1 for e in events if e.type == "usage") == 55


async def test_many_concurrent_runs_complete_independently(engine: Engine) -> None:
    runs = [engine.start_run("long-demo") for _ in range(20)]
    with anyio.fail_after(10):
        for run in runs:
            assert (await drain(engine, run.id))[-1].type == "run.completed"


async def test_a_branch_fork_replays_the_prefix_then_runs_the_rest(engine: Engine) -> None:
    source = engine.start_run("quick-demo")
    events = await drain(engine, source.id)
    fork_at = next(e.seq for e in events if e.type == "step.completed" and e.step_id == "compute")
    fork = engine.fork(source.id, from_seq=fork_at, mode="branch")
    forked = await drain(engine, fork.id)
    assert [e.type for e in forked[: fork_at + 1]] == [e.type for e in events[: fork_at + 1]]
    assert all(e.run_id == fork.id for e in forked)
    assert [e.step_id for e in forked[fork_at + 1 :] if e.type == "step.started"] == ["finish"]
    assert forked[-1].type == "run.completed"
    assert fork.source_run_id == source.id


async def test_a_branch_fork_of_a_gated_run_waits_at_the_gate_again(engine: Engine) -> None:
    source = engine.start_run("approval-demo")
    opened = await until(engine, source.id, "gate.opened")
    fork = engine.fork(source.id, from_seq=opened.seq - 1)
    again = await until(engine, fork.id, "gate.opened")
    assert again.payload["interrupt_id"] == "int_1"
    engine.answer_gate(fork.id, "approve", {"action": "accept"})
    assert (await drain(engine, fork.id))[-1].type == "run.completed"
    assert source.status == "waiting-approval"


async def test_replay_forks_only_from_sequence_zero(engine: Engine) -> None:
    source = engine.start_run("quick-demo")
    await drain(engine, source.id)
    with pytest.raises(ForkUnsupported):
        engine.fork(source.id, from_seq=2, mode="replay")
    with pytest.raises(ForkInvalid):
        engine.fork(source.id, from_seq=999, mode="branch")
    replay = engine.fork(source.id, from_seq=0, mode="replay")
    assert (await drain(engine, replay.id))[-1].type == "run.completed"


async def test_unknown_workflows_are_refused(engine: Engine) -> None:
    with pytest.raises(WorkflowNotFound):
        engine.start_run("nope")


async def test_a_gate_step_requires_a_gate_spec() -> None:
    with pytest.raises(ValueError, match="GateSpec"):
        Step("g", "Gate", kind="gate")
    assert Step("g", "Gate", kind="gate", gate=GateSpec(kind="custom")).gate is not None
