"""Resources (`runbridge://` templates): read-only views a host can attach as context."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from ..bridge.actions import offered_actions
from ..bridge.events import read_events
from ..bridge.leases import recover_claims
from ..bridge.local_streams import read_run
from ..bridge.locating import known_run
from ..bridge.output import structured
from ..bridge.results import gate_view, run_snapshot
from ..bridge.users import visible_gates
from ..core.config import Settings
from ..core.errors import InputError, NotFoundError, RunbridgeError
from ..core.protocols import RunsAPI, TargetsAPI
from ..tools._spec import app_of

__all__ = ["register_resources"]


def _refused(exc: RunbridgeError) -> ResourceError:
    """An unknown profile, run or target is the reader's mistake (invalid params), not a server failure."""
    if isinstance(exc, InputError | NotFoundError):
        return ResourceNotFoundError(str(exc))
    return ResourceError(str(exc))


def _json(value: Any) -> str:
    """A resource's text; models are passed through `structured` first, so a resource has the shape of the tool
    result that shows the same thing (no null optional fields)."""
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def register_resources(mcp: MCPServer[Any], settings: Settings) -> None:
    @mcp.resource("runbridge://profiles", name="profiles", mime_type="application/json")
    def profiles() -> str:
        """The configured profiles (names, families, addresses; never credentials)."""
        return _json([{"name": p.name, "family": p.family, "base_url": p.base_url} for p in settings.profiles.values()])

    @mcp.resource("runbridge://{profile}/runs/{run_id}", name="run", mime_type="application/json")
    async def run(profile: str, run_id: str, ctx: Context[Any, Any]) -> str:
        """A run's current snapshot from its backend, with runbridge's record (cursor, open gates): runs_get's
        answer."""
        app = app_of(ctx)
        try:
            chosen, backend = app.adapters.require(profile, "runs", RunsAPI)
            record = await known_run(app.registry, chosen.name, backend, run_id)
            found = await read_run(app, chosen.name, backend, run_id, record)
            offers = offered_actions(app.settings, backend, found)
            snapshot = await run_snapshot(app.registry, chosen.name, found, offers=offers)
        except RunbridgeError as exc:
            raise _refused(exc) from None
        return _json(structured(snapshot))

    @mcp.resource(
        "runbridge://{profile}/runs/{run_id}/events{?cursor}", name="run-events", mime_type="application/json"
    )
    async def run_events(profile: str, run_id: str, ctx: Context[Any, Any], cursor: str | None = None) -> str:
        """A page of a run's events after `cursor`; the page's next_cursor continues it."""
        app = app_of(ctx)
        try:
            chosen, backend = app.adapters.require(profile, "runs", RunsAPI)
            await known_run(app.registry, chosen.name, backend, run_id)
            page = await read_events(
                backend,
                app.registry,
                chosen.name,
                run_id,
                cursor=cursor,
                limit=100,
                budget=app.settings.result_budget_chars,
            )
        except RunbridgeError as exc:
            raise _refused(exc) from None
        return _json(structured(page))

    @mcp.resource("runbridge://{profile}/gates", name="gates", mime_type="application/json")
    async def open_gates(profile: str, ctx: Context[Any, Any]) -> str:
        """The gates waiting for a human on a profile."""
        app = app_of(ctx)
        try:
            name = app.settings.profile(profile).name
        except RunbridgeError as exc:
            raise _refused(exc) from None
        await recover_claims(app, name)  # a gate a stopped runbridge was answering is settled first
        mine = await visible_gates(app.registry, await app.registry.gates(name))  # with [auth], the user's own
        return _json([structured(gate_view(r.gate, name)) for r in mine])

    @mcp.resource("runbridge://{profile}/targets/{target_id}", name="target", mime_type="application/json")
    async def target(profile: str, target_id: str, ctx: Context[Any, Any]) -> str:
        """One runnable target: its steps and expected inputs."""
        app = app_of(ctx)
        try:
            _, backend = app.adapters.require(profile, "targets", TargetsAPI)
            found = await backend.describe_target(target_id)
        except RunbridgeError as exc:
            raise _refused(exc) from None
        return _json(structured(found))

    _ = (profiles, run, run_events, open_gates, target)
