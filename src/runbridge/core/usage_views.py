"""Usage as a backend platform keeps it (not only what runbridge saw): the views a family may offer, in domain
terms, and the capability protocol of an adapter that offers them.

A view is asked for with a `UsageQuery` and answered with a `UsageView`: the period, the figures summed over it,
and the view's rows (days, agents, tenants, calls or per-agent metrics) under stable column names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

__all__ = ["USAGE_VIEWS", "UsageFigures", "UsageQuery", "UsageSide", "UsageView", "UsageViewName", "UsageViewsAPI"]

UsageViewName = Literal["summary", "timeseries", "breakdown", "tenants", "logs", "metrics"]
UsageSide = Literal["consumer", "author"]
USAGE_VIEWS: tuple[UsageViewName, ...] = ("summary", "timeseries", "breakdown", "tenants", "logs", "metrics")


class UsageQuery(BaseModel):
    """What to report: a view, whose side (what the account spent calling agents, or what its own agents were
    called for), the last `days` days, and filters."""

    view: UsageViewName
    side: UsageSide = "consumer"
    days: int = Field(default=30, ge=1)
    agent: str | None = None
    tenant: str | None = None
    status: str | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None


class UsageFigures(BaseModel):
    """Figures summed over the period (those the view has; the rest left out)."""

    calls: int | None = None
    successful_calls: int | None = None
    failed_calls: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    revenue_usd: float | None = Field(default=None, description="What the account's agents earned (author side).")
    success_rate: float | None = Field(default=None, description="Percent of runs that completed.")
    error_rate: float | None = None
    p50_latency_ms: int | None = None
    p95_latency_ms: int | None = None
    avg_latency_ms: int | None = None
    runs_per_day: float | None = None


class UsageView(BaseModel):
    """One usage view as the platform reported it."""

    view: UsageViewName
    side: UsageSide
    since: datetime
    until: datetime
    figures: UsageFigures
    columns: list[str] = Field(description="The rows' columns, in the order a table shows them.")
    rows: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    total_rows: int | None = Field(default=None, description="Rows in the whole period (paged views).")
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page.")
    note: str | None = None


@runtime_checkable
class UsageViewsAPI(Protocol):
    """A backend that keeps usage and cost itself, and reports it in these views."""

    async def usage_view(self, query: UsageQuery) -> UsageView: ...
