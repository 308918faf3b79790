"""The usage toolset: tokens and cost of the runs runbridge followed, whatever their backend; and, for a backend
that keeps usage itself (`UsageViewsAPI`), its own views (`view`): summary, timeseries (with a chart), breakdown by
agent, tenants, call logs (paged) and the metrics dashboard, as a compact table beside the structured content."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent
from pydantic import BaseModel, Field

from ..bridge.output import structured
from ..bridge.usage import GroupBy, UsageGroup, UsageTotals, summarise
from ..bridge.usage_views import chart_of, table_of
from ..core.errors import InputError
from ..core.models import utc_now
from ..core.usage_views import UsageQuery, UsageSide, UsageView, UsageViewName, UsageViewsAPI
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]


class UsageReport(BaseModel):
    """Usage summed over a period, with a breakdown."""

    profile: str | None = Field(default=None, description="The profile summed; absent: every profile.")
    since: datetime
    until: datetime
    group_by: GroupBy | None = Field(default=None, description="How runbridge's own report is broken down.")
    total: UsageTotals
    groups: list[UsageGroup]
    platform: UsageView | None = Field(
        default=None, description="With `view`: the backend's own usage view (its figures, columns and rows)."
    )
    note: str | None = None


async def usage_report(
    ctx: Context[Any, Any],
    days: Annotated[int, Field(ge=1, le=3650, description="The period: the last this many days.")] = 30,
    group_by: Annotated[GroupBy, Field(description="Break the total down by target, profile, day or status.")] = (
        "target"
    ),
    profile: Annotated[str | None, Field(description="Only this profile; omit for all profiles.")] = None,
    view: Annotated[
        UsageViewName | None,
        Field(
            description="The backend's own usage (a profile whose platform keeps it): summary, timeseries (with a "
            "chart), breakdown (by agent), tenants, logs (calls, paged) or metrics (latency percentiles, success "
            "rate, trigger sources). Omit for what runbridge itself recorded."
        ),
    ] = None,
    side: Annotated[
        UsageSide, Field(description="With view: consumer (what you spent calling agents) or author (your agents).")
    ] = "consumer",
    agent: Annotated[str | None, Field(max_length=200, description="With view: only this agent (its name).")] = None,
    tenant: Annotated[str | None, Field(max_length=200, description="With view: only this tenant.")] = None,
    status: Annotated[str | None, Field(max_length=50, description="With view logs: only calls in this status.")] = (
        None
    ),
    limit: Annotated[int, Field(ge=1, le=200, description="With view logs: calls per page.")] = 50,
    cursor: Annotated[str | None, Field(max_length=100, description="With view logs: next_cursor of a page.")] = None,
) -> UsageReport:
    """Tokens and cost of the runs runbridge started, followed or read in the last `days` days, in total and broken
    down (by target, profile, day or status). The figures are what each backend reported for its runs; runs it
    reported no usage for are counted but add nothing. With `view`, the backend's own figures instead (for a
    platform that keeps them, e.g. orchagent.io), as a table and structured content; a timeseries also as a chart."""
    app = app_of(ctx)
    if view is not None:
        query = UsageQuery(
            view=view, side=side, days=days, agent=agent, tenant=tenant, status=status, limit=limit, cursor=cursor
        )
        return await _platform_report(ctx, profile, query)  # type: ignore[return-value]  # a CallToolResult of it
    given = [n for n, v in (("agent", agent), ("tenant", tenant), ("status", status), ("cursor", cursor)) if v]
    if given:
        raise InputError(f"{', '.join(given)} apply to a backend's own usage: pass `view` too (e.g. view='logs').")
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


async def _platform_report(ctx: Context[Any, Any], profile: str | None, query: UsageQuery) -> CallToolResult:
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "usage_views", UsageViewsAPI)
    found = await backend.usage_view(query)
    figures = found.figures
    calls = figures.calls or 0
    total = UsageTotals(
        runs=calls,
        runs_with_usage=calls,
        input_tokens=figures.input_tokens or 0,
        output_tokens=figures.output_tokens or 0,
        total_tokens=figures.total_tokens or 0,
        cost_usd=figures.cost_usd,
    )
    report = UsageReport(
        profile=chosen.name, since=found.since, until=found.until, total=total, groups=[], platform=found
    )
    content: list[ContentBlock] = [TextContent(type="text", text=table_of(found, profile=chosen.name))]
    chart = chart_of(found)
    if chart is not None:
        content.append(ImageContent(type="image", data=chart, mime_type="image/png"))
    return CallToolResult(content=content, structured_content=structured(report))


def platform_view(found: UsageView) -> dict[str, Any]:
    """A usage view as a resource shows it (the same shape as the tool's `platform`)."""
    return structured(found)


SPECS = [ToolSpec(usage_report, "usage", "Report usage and cost", read_only=True)]  # `view` reads a backend
