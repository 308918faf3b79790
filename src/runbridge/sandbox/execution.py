"""Walking a run through its steps: the body of every run task.

Each step appends its events synchronously between awaits, so a subscriber never sees half a step; `pause`
(the engine's speed-scaled sleep) is the only place a run yields, besides waiting on a gate, or a burst.

A burst (run option `emit = {"count": N, "rate": R}`, i.e. `inputs["_sandbox"]["emit"]`) adds N `tool.called`
events of a `tick` tool right after `run.started`, R per second on a steady schedule (no rate: as fast as the loop
allows). Each carries its emit time (`args.emittedAt`, Unix seconds) and its position (`args.n`, from 1): load for
benchmarks of a client's event pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import anyio
import anyio.lowlevel

from .events import iso_now
from .gates import WAITING_STATUS, gate_payload
from .model import GateSpec, Step
from .runs import OpenGate, RunRecord

__all__ = ["Pause", "drive", "fail_run"]

Pause = Callable[[float], Awaitable[None]]
"""Sleep for a step's delay (in seconds at speed 1)."""


def _money(amount: float) -> str:
    whole, _, decimals = f"{amount:.4f}".rstrip("0").partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


async def drive(run: RunRecord, start_at: int, pause: Pause) -> None:
    """Run the workflow's steps from `start_at` to the end, a gate, a failure or a cancel."""
    with run.scope:
        if run.finished:
            return
        if not run.events:
            run.append(
                "run.started",
                {
                    "workflow_id": run.workflow.id,
                    "workflow_name": run.workflow.name,
                    "inputs": run.inputs,
                    "step_total": run.step_total,
                },
            )
            await _burst(run)
        run.status = "running"
        run.started_at = run.started_at or run.events[0].timestamp
        for step in run.workflow.steps[start_at:]:
            if run.pause_requested:
                await _parked(run)
            await _step(run, step, pause)
            if run.finished:
                return
        _complete(run)


async def _parked(run: RunRecord) -> None:
    """Paused by an operator between steps until resumed (a cancel ends the wait through the run's scope)."""
    run.status = "paused"
    run.append("run.paused", {"reason": "operator"})
    await run.resumed.wait()
    run.status = "running"
    run.append("run.resumed", {})


async def _burst(run: RunRecord) -> None:
    raw = run.options.get("emit")
    if not isinstance(raw, dict):
        return
    spec = cast(dict[str, Any], raw)
    count, rate = int(spec.get("count", 0)), float(spec.get("rate") or 0)
    run.status = "running"
    start = anyio.current_time()
    for n in range(1, count + 1):
        if rate > 0 and (wait := start + (n - 1) / rate - anyio.current_time()) > 0:
            await anyio.sleep(wait)
        elif n % 64 == 0:
            await anyio.lowlevel.checkpoint()  # a burst never starves the streams that serve it
        args = {"n": n, "emittedAt": time.time()}
        run.append("tool.called", {"tool": "tick", "args": args, "call_id": f"tick_{n}"})


async def _step(run: RunRecord, step: Step, pause: Pause) -> None:
    run.current_step = step.id
    run.node_states[step.id] = "running"
    run.append("step.started", {"kind": step.kind, "gate_kind": step.gate.kind if step.gate else None}, step)
    await pause(step.delay)
    if run.finished:
        return  # cancelled while pausing; cancellation normally lands inside the pause, this is the backstop
    if step.tool:
        call_id = f"call_{step.id}_{len(run.events)}"
        run.append("tool.called", {"tool": step.tool, "args": dict(step.tool_args), "call_id": call_id}, step)
        run.append("tool.result", {"tool": step.tool, "call_id": call_id, "result": step.tool_result}, step)
    if step.usage is not None:
        _usage(run, step)
        if run.finished:
            return
    if step.kind == "gate":
        await _gate(run, step, pause)
        return
    if step.kind == "fail":
        error = {"code": step.error_code, "message": step.error_message}
        run.node_states[step.id] = "failed"
        run.append("step.failed", {"error": error}, step)
        fail_run(run, error, step)
        return
    run.node_states[step.id] = "completed"
    output = step.output if step.output is not None else f"{step.name} done."
    run.append("step.completed", {"output": output}, step)


def _usage(run: RunRecord, step: Step) -> None:
    usage = step.usage
    assert usage is not None
    run.cost_usd += usage.cost_usd
    run.append(
        "usage",
        {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "cost_usd": usage.cost_usd,
            "total_cost_usd": round(run.cost_usd, 10),
            "model": usage.model,
            "provider": usage.provider,
        },
        step,
    )
    limit = run.max_cost_usd
    if limit is not None and run.cost_usd > limit + 1e-12:
        run.node_states[step.id] = "failed"
        message = f"Cost limit exceeded: ${_money(run.cost_usd)} > max ${_money(limit)}"
        fail_run(run, {"code": "cost_limit_exceeded", "message": message}, step)


async def _gate(run: RunRecord, step: Step, pause: Pause) -> None:
    spec: GateSpec | None = step.gate
    assert spec is not None  # Step.__post_init__ guarantees a spec on gate steps
    round_ = 0
    while True:
        round_ += 1
        run.gate_count += 1
        gate = OpenGate(
            node_id=step.id,
            interrupt_id=f"int_{run.gate_count}",
            key=f"{run.id}:{step.id}:{round_ - 1}",
            spec=spec,
            round=round_,
            requested_at=iso_now(),
        )
        run.gate = gate
        run.status = WAITING_STATUS[spec.kind]
        run.node_states[step.id] = "suspended"
        run.resolved_nodes.discard(step.id)
        run.append("gate.opened", gate_payload(gate), step)
        await gate.answered.wait()
        if run.finished:
            return  # cancelled between the answer and this wake-up
        if gate.outcome == "reject":
            run.node_states[step.id] = "failed"
            feedback = gate.value.get("feedback") if isinstance(gate.value, dict) else None
            detail = f": {feedback}" if feedback else "."
            fail_run(run, {"code": "interrupt_rejected", "message": f"{step.name} was rejected{detail}"}, step)
            return
        if gate.outcome == "refine":
            run.node_states[step.id] = "running"
            run.append("log", {"level": "info", "message": f"Refining {step.name} after feedback."}, step)
            await pause(step.delay)
            if run.finished:
                return
            continue
        run.variables[step.id] = gate.value
        run.node_states[step.id] = "completed"
        run.append("step.completed", {"output": gate.value}, step)
        return


def fail_run(run: RunRecord, error: dict[str, Any], step: Step | None) -> None:
    run.status = "failed"
    run.error = error
    run.completed_at = iso_now()
    payload = {"error": error, "step_id": step.id if step else None, "duration_ms": run.duration_ms()}
    run.append("run.failed", payload)


def _complete(run: RunRecord) -> None:
    run.status = "completed"
    run.current_step = None
    run.outputs = {"result": run.workflow.result or f"{run.workflow.name} finished.", **run.variables}
    run.completed_at = iso_now()
    run.append("run.completed", {"outputs": run.outputs, "duration_ms": run.duration_ms()})
