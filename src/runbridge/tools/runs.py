"""The runs toolset: start, follow, inspect, list, cancel and fork runs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ..bridge.actions import offered_actions
from ..bridge.events import EventsPage, read_events
from ..bridge.local_streams import read_run
from ..bridge.locating import known_run, must_exist
from ..bridge.results import RunReport, RunSnapshot, run_snapshot
from ..bridge.run_lists import merged_runs
from ..bridge.users import current_user
from ..core.models import RunStatus, StartRequest
from ..core.protocols import ForkAPI, RunListAPI, RunsAPI
from ._follow import FollowResult, continue_or_none, follow, wait_for
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]

Profile = Annotated[str | None, Field(description="Profile name; omit for the default profile.")]
Wait = Annotated[
    float | None,
    Field(
        description="Seconds to follow the run before returning a handle (default 20; "
        "at most 40 unless the server's max_wait_seconds says otherwise, so the answer arrives before "
        "the 60 s most MCP clients wait for a call)."
    ),
]
RunId = Annotated[str, Field(min_length=1, max_length=512, description="The run id.")]


async def runs_start(
    target_id: Annotated[str, Field(min_length=1, max_length=512, description="What to run (from targets_list).")],
    ctx: Context[Any, Any],
    inputs: Annotated[dict[str, Any] | None, Field(description="Inputs for the run, per targets_describe.")] = None,
    message: Annotated[
        str | None, Field(max_length=100_000, description="A text prompt, if the target takes one.")
    ] = None,
    wait_seconds: Wait = None,
    profile: Profile = None,
) -> FollowResult:
    """Start a run and follow it live.

    Use when the user wants something run. Progress arrives as notifications. If the run reaches a human gate
    the user is asked directly where the client supports it; otherwise the result's `waiting_for` holds the
    question: relay it to the user and call gates_respond with their answer (never answer it yourself). If the
    run is still going after `wait_seconds`, you get a handle: call runs_watch to keep following it. Returns the
    run's status, outputs when done, errors, usage and the next step.
    """
    app = app_of(ctx)
    resumed = await continue_or_none(app, ctx)
    if resumed is not None:
        return resumed
    chosen, backend = app.adapters.require(profile, "runs", RunsAPI)
    request = StartRequest(target_id=target_id, inputs=inputs or {}, message=message, idempotency_key=str(uuid.uuid4()))
    run = await backend.start_run(request)
    run = run.model_copy(update={"target_id": run.target_id or target_id})
    await app.registry.record_run(chosen.name, run, locator=run.locator, user=current_user())
    return await follow(app, ctx, chosen.name, run.run_id, wait=wait_for(app, wait_seconds), target_id=target_id)


async def runs_watch(
    run_id: RunId,
    ctx: Context[Any, Any],
    wait_seconds: Wait = None,
    cursor: Annotated[
        str | None, Field(description="Follow from after this event; default: where runbridge left off.")
    ] = None,
    profile: Profile = None,
) -> FollowResult:
    """Keep following a run started earlier (or elsewhere), with live progress and gates, like runs_start.

    Use after runs_start returned a still-running handle, or to supervise any run by id. It continues from
    the last event runbridge saw, so nothing is repeated or lost. Stopping this call never stops the run.
    """
    app = app_of(ctx)
    resumed = await continue_or_none(app, ctx)
    if resumed is not None:
        return resumed
    chosen, backend = app.adapters.require(await app.sightings.locate(profile, run_id=run_id), "runs", RunsAPI)
    record = await known_run(app.registry, chosen.name, backend, run_id)
    # A run runbridge has not seen: make sure it exists (a clear "no such run"), and learn what it runs.
    if record is None:
        async with app.sightings.hinting(chosen.name, run_id=run_id):
            run = await backend.get_run(run_id)
            must_exist(chosen.name, run, record)
        target_id = run.target_id
        # What it is now (paused, ended) decides how to follow it; its gate is read from the stream, as before.
        await app.registry.observe_run(chosen.name, run_id, status=run.status, error=run.error, target_id=target_id)
    else:
        target_id = record.target_id
    start = cursor if cursor is not None else (record.cursor if record else None)
    return await follow(
        app,
        ctx,
        chosen.name,
        run_id,
        wait=wait_for(app, wait_seconds),
        cursor=start,
        target_id=target_id,
    )


async def runs_get(run_id: RunId, ctx: Context[Any, Any], profile: Profile = None) -> RunSnapshot:
    """A snapshot of a run: status, outputs or error, current step, and the gate it waits on with how to answer it
    (relay it to the user; never answer it yourself). Does not wait."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(await app.sightings.locate(profile, run_id=run_id), "runs", RunsAPI)
    record = await known_run(app.registry, chosen.name, backend, run_id)
    async with app.sightings.hinting(chosen.name, run_id=run_id):
        run = await read_run(app, chosen.name, backend, run_id, record)
    return await run_snapshot(app.registry, chosen.name, run, offers=offered_actions(app.settings, backend, run))


async def runs_events(
    run_id: RunId,
    ctx: Context[Any, Any],
    cursor: Annotated[
        str | None, Field(description="Return events after this cursor; omit to start at the beginning.")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=500, description="At most this many events.")] = 50,
    profile: Profile = None,
) -> EventsPage:
    """A page of a run's events (oldest first) without waiting for new ones; pass next_cursor for more."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(await app.sightings.locate(profile, run_id=run_id), "runs", RunsAPI)
    record = await known_run(app.registry, chosen.name, backend, run_id)
    async with app.sightings.hinting(chosen.name, run_id=run_id):
        if record is None:  # a run runbridge never saw: one its backend confirms, or "no such run"
            must_exist(chosen.name, await backend.get_run(run_id), record)
        return await read_events(
            backend,
            app.registry,
            chosen.name,
            run_id,
            cursor=cursor,
            limit=limit,
            budget=app.settings.result_budget_chars,
        )


class CancelResult(BaseModel):
    profile: str
    run_id: str
    status: RunStatus
    note: str


async def runs_cancel(
    run_id: RunId,
    ctx: Context[Any, Any],
    reason: Annotated[str | None, Field(max_length=1000, description="Why; recorded by the backend.")] = None,
    profile: Profile = None,
) -> CancelResult:
    """Cancel a run on the backend. Only when the user asks to stop it: this cannot be undone."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(await app.sightings.locate(profile, run_id=run_id), "runs", RunsAPI)
    before = await known_run(app.registry, chosen.name, backend, run_id)
    async with app.sightings.hinting(chosen.name, run_id=run_id):
        if before is None:  # a run runbridge never saw: one its backend confirms, or "no such run"
            must_exist(chosen.name, await backend.get_run(run_id), before)
        run = await backend.cancel_run(run_id, reason=reason)
    await app.registry.update_run(chosen.name, run_id, status=run.status)
    if run.status.terminal:
        await app.registry.close_gates(chosen.name, run_id)  # a run that still waits keeps its gates answerable
    if before is not None and before.status is RunStatus.CANCELLED and run.status is RunStatus.CANCELLED:
        note = "The run was already cancelled; nothing changed."
    elif run.status is RunStatus.CANCELLED and isinstance(run.details.get("note"), str):
        note = str(run.details["note"])  # the backend's own account (Synapse v1 has no cancel: it abandons the run)
    elif run.status is RunStatus.CANCELLED:
        note = "The run is cancelled."
    elif run.status.terminal:
        note = f"The run had already ended ({run.status.value}) before it could be cancelled; nothing changed."
    elif run.status is RunStatus.PAUSED:
        note = (
            "Cancellation requested, but the backend still shows the run paused (by an operator): it has not "
            "stopped yet. runs_get shows when it has."
        )
    else:
        note = "Cancellation requested; the backend has not ended the run yet. runs_get shows when it has."
    return CancelResult(profile=chosen.name, run_id=run_id, status=run.status, note=note)


async def runs_fork(
    run_id: RunId,
    ctx: Context[Any, Any],
    from_seq: Annotated[int | None, Field(ge=0, description="Event sequence to fork from (default: the end).")] = None,
    mode: Annotated[
        Literal["branch", "replay"], Field(description="branch: continue anew; replay: re-run.")
    ] = "branch",
    wait_seconds: Wait = None,
    profile: Profile = None,
) -> FollowResult:
    """Start a new run from a point in an existing run's history, then follow it like runs_start."""
    app = app_of(ctx)
    resumed = await continue_or_none(app, ctx)
    if resumed is not None:
        return resumed
    chosen, backend = app.adapters.require(await app.sightings.locate(profile, run_id=run_id), "fork", ForkAPI)
    source = await known_run(app.registry, chosen.name, backend, run_id)
    async with app.sightings.hinting(chosen.name, run_id=run_id):
        run = await backend.fork_run(run_id, from_seq=from_seq, mode=mode)
    target_id = run.target_id or (source.target_id if source else None)
    await app.registry.record_run(
        chosen.name, run.model_copy(update={"target_id": target_id}), locator=run.locator, user=current_user()
    )
    return await follow(app, ctx, chosen.name, run.run_id, wait=wait_for(app, wait_seconds), target_id=target_id)


class RunSummary(BaseModel):
    profile: str
    run_id: str
    target_id: str | None
    status: RunStatus
    updated_at: str
    error: str | None = None
    source: Literal["runbridge", "backend"] = Field(
        default="runbridge",
        description="runbridge: started or watched through runbridge; backend: listed by the backend's run history.",
    )


class RunsPage(BaseModel):
    profile: str | None = Field(default=None, description="The profile listed; absent when all are.")
    runs: list[RunSummary]
    next_cursor: str | None = None


async def runs_list(
    ctx: Context[Any, Any],
    status: Annotated[RunStatus | None, Field(description="Only runs in this status.")] = None,
    cursor: Annotated[str | None, Field(description="next_cursor from a previous page.")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    profile: Annotated[str | None, Field(description="Only this profile; omit for all profiles.")] = None,
) -> RunsPage:
    """Runs started or watched through runbridge, newest first, each with its profile (works on every backend).
    Naming a profile whose backend keeps a run history also lists the backend's runs (started elsewhere too)."""
    app = app_of(ctx)
    name = app.settings.profile(profile).name if profile else None
    user = current_user()
    if name is not None and user is None:  # a backend's history is everyone's: not listed to one user
        _, backend = app.adapters.get(name)
        if isinstance(backend, RunListAPI):
            items, after = await merged_runs(app.registry, name, backend, cursor=cursor, limit=limit, status=status)
            listed = [
                RunSummary(
                    profile=name,
                    run_id=i.run_id,
                    target_id=i.target_id,
                    status=i.status,
                    error=i.error,
                    updated_at=i.updated_at.isoformat(timespec="seconds"),
                    source="backend" if i.source == "backend" else "runbridge",
                )
                for i in items
            ]
            return RunsPage(profile=name, runs=listed, next_cursor=after)
    page = await app.registry.list_runs(name, cursor=cursor, limit=limit, status=status, user=user)
    runs = [
        RunSummary(
            profile=r.profile,
            run_id=r.run_id,
            target_id=r.target_id,
            status=r.status,
            error=r.error,
            updated_at=r.updated_at.isoformat(timespec="seconds"),
        )
        for r in page.items
    ]
    return RunsPage(profile=name, runs=runs, next_cursor=page.next_cursor)


SPECS = [
    ToolSpec(runs_start, "runs", "Start a run", read_only=False, capability="runs", task=True),
    ToolSpec(runs_watch, "runs", "Follow a run", read_only=False, idempotent=True, capability="runs", task=True),
    ToolSpec(runs_get, "runs", "Get a run", read_only=True, capability="runs"),
    ToolSpec(runs_events, "runs", "List a run's events", read_only=True, capability="runs"),
    ToolSpec(
        runs_cancel, "runs", "Cancel a run", read_only=False, destructive=True, idempotent=True, capability="runs"
    ),
    ToolSpec(runs_fork, "runs", "Fork a run", read_only=False, capability="fork"),
    ToolSpec(runs_list, "runs", "List runs", read_only=True, open_world=False),
]

_ = RunReport  # the output schema of the follow tools (through FollowResult)
