"""The usage toolset: tokens and cost of the runs runbridge followed, whatever their backend."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ..bridge.usage import GroupBy, UsageGroup, UsageTotals, summarise
from ..core.models import utc_now
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]


class UsageReport(BaseModel):
    """Usage summed over a period, with a breakdown."""

    profile: str | None = Field(default=None, description="The profile summed; absent: every profile.")
    since: datetime
    until: datetime
    group_by: GroupBy
    total: UsageTotals
    groups: list[UsageGroup]
    note: str | None = None


async def usage_report(
    ctx: Context[Any, Any],
    days: Annotated[int, Field(ge=1, le=3650, description="The period: the last this many days.")] = 30,
    group_by: Annotated[GroupBy, Field(description="Break the total down by target, profile, day or status.")] = (
        "target"
    ),
    profile: Annotated[str | None, Field(description="Only this profile; omit for all profiles.")] = None,
) -> UsageReport:
    """Tokens and cost of the runs runbridge started, followed or read in the last `days` days, in total and broken
    down (by target, profile, day or status). The figures are what each backend reported for its runs; runs it
    reported no usage for are counted but add nothing."""
    app = app_of(ctx)
    name = app.settings.profile(profile).name if profile else None
    until = utc_now()
    since = until - timedelta(days=days)
    total, groups = summarise(await app.registry.usage_sums(name, since, group_by), group_by)
    note = None
    if not total.runs:
        note = f"runbridge recorded no run in the last {days} days" + (f" on profile {name!r}." if name else ".")
    elif total.runs_with_usage < total.runs:
        missing = total.runs - total.runs_with_usage
        note = (
            f"{missing} of {total.runs} runs have no usage: their backend reported none, or runbridge has not "
            "followed or read them since they ran (runs_get reads a run's usage)."
        )
    return UsageReport(profile=name, since=since, until=until, group_by=group_by, total=total, groups=groups, note=note)


SPECS = [ToolSpec(usage_report, "usage", "Report usage and cost", read_only=True, open_world=False)]
