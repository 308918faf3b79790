"""Shared by every tool that follows a run: the wait bound, and the 2026-era continuation of a gated call."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import InputRequiredResult

from ..bridge.app import App
from ..bridge.caller import Caller
from ..bridge.following import FollowedRun, answered_note
from ..bridge.locating import known_run
from ..bridge.results import RunReport
from ..bridge.task_start import starting
from ..bridge.watch import Follower
from ..core import budget
from ..core.errors import GateError
from ..core.protocols import RunsAPI

__all__ = ["FollowResult", "continue_or_none", "follow", "wait_for"]

FollowResult = RunReport | InputRequiredResult


def wait_for(app: App, requested: float | None) -> float:
    """The requested wait, defaulted and capped by the settings, and ending early enough for the report after it
    to fit in the call's time budget (what the backend's first request took is already spent)."""
    settings = app.settings
    value = settings.wait_seconds if requested is None else requested
    return budget.for_waiting(max(0.0, min(float(value), settings.max_wait_seconds)))


async def follow(
    app: App,
    ctx: Context[Any, Any],
    profile: str,
    run_id: str,
    *,
    wait: float,
    cursor: str | None = None,
    target_id: str | None = None,
    events: int = 0,
    decision: str | None = None,
    said: str | None = None,
) -> FollowResult:
    chosen, backend = app.adapters.require(profile, "runs", RunsAPI)
    await known_run(app.registry, chosen.name, backend, run_id)  # the adapter finds the run as it was started
    start = starting()
    if start is not None and start.task is None:  # a call that asked to run as a task: the task follows the run
        return await start.bind(app, chosen.name, run_id, cursor=cursor, target_id=target_id)
    run = FollowedRun(
        chosen.name,
        run_id,
        wait=wait,
        cursor=cursor,
        target_id=target_id,
        events=events,
        decision=decision,
        said=said or (answered_note(decision) if decision else None),
    )
    return await Follower(app, Caller(ctx), backend, run).follow()


async def continue_or_none(app: App, ctx: Context[Any, Any]) -> FollowResult | None:
    """On a retried 2026-era call, answer the gate it carried and follow the same run on; else None.

    The retry re-runs the tool from the top with the same arguments, so this must come before anything that
    would start work: it is what guarantees that answering a gate never starts a second run.
    """
    caller = Caller(ctx)
    carried = caller.continuation()
    if carried is None:
        return None
    state, result = carried
    chosen, backend = app.adapters.require(str(state.get("profile")), "runs", RunsAPI)
    await known_run(app.registry, chosen.name, backend, str(state.get("run_id")))
    record = await app.registry.get_gate(chosen.name, str(state.get("gate_id")))
    if record is None:
        raise GateError("The gate this answer belongs to is unknown here; list open gates with gates_list.")
    run = FollowedRun(
        chosen.name,
        str(state["run_id"]),
        wait=budget.for_waiting(float(state.get("wait") or app.settings.wait_seconds)),  # this call's own budget
        cursor=state.get("cursor"),
        target_id=state.get("target_id"),
        events=int(state.get("events") or 0),
        progress_floor=float(state.get("progress") or 0.0),
        step_total=state.get("step_total"),
    )
    follower = Follower(app, caller, backend, run)
    if result is None:  # the retry carried no answer: the same question again while it is open (never a run)
        if record.state != "open":
            raise GateError("This gate is no longer open (answered, declined or closed); runs_get shows the run.")
        return follower.ask_again(record.gate, "The retried call carried no answer to this question; please answer it.")
    stopped = await follower.answer(record.gate, result.action, result.content)
    if stopped is not None:
        return stopped
    return await follower.follow()
