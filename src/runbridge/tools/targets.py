"""The targets toolset: what can be run on a profile."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ..core.models import Target
from ..core.protocols import TargetsAPI
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]


class TargetsPage(BaseModel):
    profile: str
    targets: list[Target]
    next_cursor: str | None = None
    total: int | None = None


async def targets_list(
    ctx: Context[Any, Any],
    cursor: Annotated[str | None, Field(description="next_cursor from a previous page.")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    profile: Annotated[str | None, Field(description="Profile name; omit for the default profile.")] = None,
) -> TargetsPage:
    """What can be run on a profile (workflows, orchestrations, agents): ids to pass to runs_start."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "targets", TargetsAPI)
    page = await backend.list_targets(cursor=cursor, limit=limit)
    return TargetsPage(profile=chosen.name, targets=page.items, next_cursor=page.next_cursor, total=page.total)


async def targets_describe(
    target_id: Annotated[str, Field(min_length=1, max_length=512, description="A target id from targets_list.")],
    ctx: Context[Any, Any],
    profile: Annotated[str | None, Field(description="Profile name; omit for the default profile.")] = None,
) -> Target:
    """One target in detail: its steps and the inputs it expects. Read before runs_start when unsure."""
    app = app_of(ctx)
    _, backend = app.adapters.require(profile, "targets", TargetsAPI)
    return await backend.describe_target(target_id)


SPECS = [
    ToolSpec(targets_list, "targets", "List runnable targets", read_only=True, capability="targets"),
    ToolSpec(targets_describe, "targets", "Describe a target", read_only=True, capability="targets"),
]
