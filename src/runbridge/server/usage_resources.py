"""`runbridge://{profile}/usage/{view}`: a backend's own usage view (the last 30 days unless `days` says, the
consumer's side unless `side` says, narrowed to one agent or tenant by `agent`, `tenant`), as usage_report's
`platform` shows it."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import ValidationError

from ..backends import adapter_class
from ..bridge.output import structured
from ..core.config import Settings
from ..core.errors import InputError, NotFoundError, RunbridgeError
from ..core.protocols import capabilities_of
from ..core.usage_views import USAGE_VIEWS, UsageQuery, UsageViewsAPI
from ..tools._spec import app_of

__all__ = ["register_usage_resources"]


def register_usage_resources(mcp: MCPServer[Any], settings: Settings) -> None:
    """Registers the template only where some profile's backend keeps usage (like a tool needing a capability)."""
    if not any("usage_views" in capabilities_of(adapter_class(p)) for p in settings.profiles.values()):
        return

    @mcp.resource(
        "runbridge://{profile}/usage/{view}{?days,side,agent,tenant}", name="usage", mime_type="application/json"
    )
    async def usage(
        profile: str,
        view: str,
        ctx: Context[Any, Any],
        days: str | None = None,
        side: str | None = None,
        agent: str | None = None,
        tenant: str | None = None,
    ) -> str:
        """A backend's own usage view (summary, timeseries, breakdown, tenants, logs, metrics) for a profile whose
        platform keeps usage."""
        if view not in USAGE_VIEWS:
            raise ResourceNotFoundError(f"No usage view {view!r}; the views are {', '.join(USAGE_VIEWS)}.")
        try:
            query = UsageQuery.model_validate(
                {"view": view, "days": days or 30, "side": side or "consumer", "agent": agent, "tenant": tenant}
            )
        except ValidationError:
            raise ResourceNotFoundError("days must be a whole number from 1, and side consumer or author.") from None
        app = app_of(ctx)
        try:
            _, backend = app.adapters.require(profile, "usage_views", UsageViewsAPI)
            found = await backend.usage_view(query)
        except RunbridgeError as exc:
            if isinstance(exc, InputError | NotFoundError):
                raise ResourceNotFoundError(str(exc)) from None
            raise ResourceError(str(exc)) from None
        return json.dumps(structured(found), ensure_ascii=False, indent=1, default=str)

    _ = usage
