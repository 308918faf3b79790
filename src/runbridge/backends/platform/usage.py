"""The usage part of the platform adapter (docs/backends/platform.md, "Usage and cost"): the account's usage as the
platform keeps it, in runbridge's usage views.

* consumer side (what the account spent calling agents): `GET /usage`, `/usage/timeseries`, `/usage/breakdown`,
  `/usage/tenants`, `/usage/logs`;
* author side (what the account's own agents were called for, and earned): `GET /author-usage` and the same
  sub-paths but `tenants`;
* the workspace metrics dashboard (latency percentiles, success rate, trigger sources per agent): `GET
  /workspaces/{ws}/metrics/dashboard`, as the official CLI's `metrics` command reads it.

Every view is asked for with `days` and the filters `agent_name`, `tenant` (and `status`, `limit`, `offset` for the
logs), but the metrics dashboard, which takes `days` and `agent_name` only: a tenant is refused for it. Costs come
in cents and are reported in US dollars. The platform does not document the usage answers' shapes: the reading is
lenient (a figure may be named `calls` or `total_calls`, a list may be bare or wrapped, an answer may be
enveloped), and a figure the platform did not give is left out, never guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ...core.errors import CursorError, InputError, UnsupportedError
from ...core.usage_views import UsageFigures, UsageQuery, UsageView
from ...http import segment
from .client import PlatformHttp

__all__ = ["PlatformUsage"]

MAX_DAYS = 365
_PATHS = {"summary": "", "timeseries": "/timeseries", "breakdown": "/breakdown", "tenants": "/tenants", "logs": "/logs"}
_ROW_LISTS = ("series", "agents", "tenants", "logs", "items", "data", "rows")
_COLUMNS = {
    "timeseries": ["date", "calls", "failed_calls", "total_tokens", "cost_usd"],
    "breakdown": ["agent", "calls", "failed_calls", "total_tokens", "cost_usd"],
    "tenants": ["tenant", "calls", "failed_calls", "total_tokens", "cost_usd"],
    "logs": ["created_at", "agent", "status", "tenant", "total_tokens", "cost_usd", "duration_ms", "trigger_source"],
    "metrics": [
        "agent",
        "runs",
        "success_rate",
        "p50_latency_ms",
        "p95_latency_ms",
        "errors",
        "top_error",
        "trigger_sources",
    ],
    "summary": [],
}


def _num(doc: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = doc.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    return None


def _usd(cents: Any) -> float | None:
    return None if cents is None else round(float(cents) / 100, 6)


def _figures(doc: dict[str, Any]) -> dict[str, Any]:
    """A row's or a summary's figures in runbridge's names (cents become dollars; absent stays absent)."""
    tokens_in, tokens_out = _num(doc, "input_tokens"), _num(doc, "output_tokens")
    total = _num(doc, "total_tokens")
    if total is None and tokens_in is not None and tokens_out is not None:
        total = tokens_in + tokens_out
    cost = _usd(_num(doc, "cost_cents"))
    if cost is None:
        cost = _num(doc, "cost_usd", "cost")
    found = {
        "calls": _num(doc, "calls", "total_calls", "count"),
        "successful_calls": _num(doc, "successful_calls", "success_calls"),
        "failed_calls": _num(doc, "failed_calls", "errors", "failed"),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "total_tokens": total,
        "cost_usd": cost,
        "revenue_usd": _usd(_num(doc, "revenue_cents", "earnings_cents")),
    }
    return {k: v for k, v in found.items() if v is not None}


def _rows_of(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        for key in _ROW_LISTS:
            if isinstance(data.get(key), list):
                return [r for r in data[key] if isinstance(r, dict)]
    return []


def _agent_name(row: dict[str, Any]) -> str:
    name = str(row.get("agent_name") or row.get("agent") or "?")
    return f"{row['org']}/{name}" if row.get("org") else name


def _row(view: str, row: dict[str, Any]) -> dict[str, Any]:
    figures = _figures(row)
    if view == "timeseries":
        return {"date": str(row.get("date") or row.get("day") or row.get("bucket") or ""), **figures}
    if view == "breakdown":
        return {"agent": _agent_name(row), **figures}
    if view == "tenants":
        return {"tenant": row.get("tenant") or "(none)", **figures}
    shown = {k: row.get(k) for k in ("id", "status", "tenant", "duration_ms", "trigger_source") if k in row}
    version = row.get("agent_version")
    return {
        "created_at": row.get("created_at") or row.get("timestamp"),
        "agent": _agent_name(row) + (f"@{version}" if version else ""),
        **shown,
        **figures,
    }


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    head, _, value = cursor.partition(":")
    if head != "o" or not value.isdigit():
        raise CursorError(f"The cursor {cursor!r} is not one this view handed out; omit it for the first page.")
    return int(value)


class PlatformUsage:
    """`UsageViewsAPI`."""

    wire: PlatformHttp

    async def usage_view(self, query: UsageQuery) -> UsageView:
        if query.days > MAX_DAYS:
            raise InputError(f"orchagent.io reports at most the last {MAX_DAYS} days; ask for fewer `days`.")
        until = datetime.now(UTC)
        since = until - timedelta(days=query.days)
        if query.view == "metrics":
            return await self._metrics(query, since, until)
        if query.view == "tenants" and query.side == "author":
            raise UnsupportedError("orchagent.io breaks usage down by tenant for the consumer side only.")
        params: dict[str, Any] = {"days": query.days}
        if query.agent:
            params["agent_name"] = query.agent
        if query.tenant:
            params["tenant"] = query.tenant
        offset = _offset(query.cursor)
        if query.view == "logs":
            params |= {"limit": query.limit, "offset": offset}
            if query.status:
                params["status"] = query.status
        base = "/usage" if query.side == "consumer" else "/author-usage"
        data = (
            await self.wire.call("GET", base + _PATHS[query.view], action=f"read the {query.view} usage", params=params)
        ).data
        doc: dict[str, Any] = data if isinstance(data, dict) else {}
        if query.view == "summary":
            inner = doc.get("summary")
            summary: dict[str, Any] = inner if isinstance(inner, dict) else doc
            return UsageView(
                view="summary",
                side=query.side,
                since=since,
                until=until,
                figures=UsageFigures(**_figures(summary)),
                columns=[],
            )
        rows = [_row(query.view, r) for r in _rows_of(data)]
        total_rows = _num(doc, "total")
        next_cursor = None
        if query.view == "logs" and total_rows is not None and offset + len(rows) < total_rows and rows:
            next_cursor = f"o:{offset + len(rows)}"
        return UsageView(
            view=query.view,
            side=query.side,
            since=since,
            until=until,
            figures=UsageFigures(**_summed(rows)) if query.view != "logs" else UsageFigures(),
            columns=_COLUMNS[query.view],
            rows=rows,
            total_rows=total_rows,
            next_cursor=next_cursor,
        )

    async def _metrics(self, query: UsageQuery, since: datetime, until: datetime) -> UsageView:
        if query.side == "author":
            raise UnsupportedError("The metrics dashboard is the workspace's own; ask for side 'consumer'.")
        if query.tenant:  # the dashboard is read by days and agent_name only
            raise InputError(
                "orchagent.io's metrics dashboard cannot be narrowed to a tenant: omit tenant, or ask view "
                "'breakdown' or 'logs' with it for one tenant's calls."
            )
        ws = await self.wire.workspace()
        params: dict[str, Any] = {"days": query.days}
        if query.agent:
            params["agent_name"] = query.agent
        data = (
            await self.wire.call(
                "GET",
                f"/workspaces/{segment(ws)}/metrics/dashboard",
                action="read the workspace metrics dashboard",
                params=params,
                headers={"X-Workspace-Id": ws},
            )
        ).data
        doc: dict[str, Any] = data if isinstance(data, dict) else {}
        overview: dict[str, Any] = doc["overview"] if isinstance(doc.get("overview"), dict) else {}
        figures = UsageFigures(
            calls=_num(overview, "total_runs"),
            successful_calls=_num(overview, "completed"),
            failed_calls=_failures(overview),
            success_rate=_num(overview, "success_rate"),
            error_rate=_num(overview, "error_rate"),
            p50_latency_ms=_num(overview, "p50_latency_ms"),
            p95_latency_ms=_num(overview, "p95_latency_ms"),
            avg_latency_ms=_num(overview, "avg_latency_ms"),
            runs_per_day=_num(overview, "runs_per_day"),
        )
        rows = [
            {
                "agent": str(a.get("agent_name") or "?"),
                "runs": _num(a, "total_runs"),
                "success_rate": _num(a, "success_rate"),
                "p50_latency_ms": _num(a, "p50_latency_ms"),
                "p95_latency_ms": _num(a, "p95_latency_ms"),
                "errors": _failures(a),
                "top_error": a.get("top_error"),
                "trigger_sources": a.get("trigger_sources") if isinstance(a.get("trigger_sources"), dict) else {},
            }
            for a in _rows_of(doc)
        ]
        return UsageView(
            view="metrics",
            side="consumer",
            since=since,
            until=until,
            figures=figures,
            columns=_COLUMNS["metrics"],
            rows=rows,
            total_rows=len(rows),
            note=f"Workspace {ws}.",
        )


def _failures(doc: dict[str, Any]) -> int | None:
    failed, timeout = _num(doc, "failed"), _num(doc, "timeout")
    return None if failed is None and timeout is None else int(failed or 0) + int(timeout or 0)


def _summed(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of a view's rows added up (a figure no row has stays absent)."""
    out: dict[str, Any] = {}
    for key in ("calls", "failed_calls", "input_tokens", "output_tokens", "total_tokens", "cost_usd", "revenue_usd"):
        values = [r[key] for r in rows if isinstance(r.get(key), int | float)]
        if values:
            out[key] = round(sum(values), 6) if key.endswith("_usd") else sum(values)
    return out
