"""Building a branch fork from its source's log: copy the events, rebuild the state they imply."""

from __future__ import annotations

from dataclasses import replace

from .events import EngineEvent
from .runs import RunRecord

__all__ = ["replay_prefix"]


def replay_prefix(run: RunRecord, events: list[EngineEvent]) -> set[str]:
    """Copy events into a fork and rebuild its state from them; the ids of the steps they completed."""
    done: set[str] = set()
    for event in events:
        run.adopt(replace(event, run_id=run.id))
        step_id = event.step_id
        match event.type:
            case "step.started" if step_id:
                run.current_step, run.node_states[step_id] = step_id, "running"
            case "step.completed" if step_id:
                run.node_states[step_id] = "completed"
                done.add(step_id)
            case "usage":
                run.cost_usd += float(event.payload.get("cost_usd", 0.0))
            case "gate.opened":
                run.gate_count += 1
            case "gate.resolved" if step_id and event.payload.get("outcome") not in ("reject", "refine"):
                run.variables[step_id] = event.payload.get("value")
            case _:
                pass
    run.started_at = events[0].timestamp
    run.status = "running"
    return done
