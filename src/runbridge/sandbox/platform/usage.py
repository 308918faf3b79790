"""The platform's usage views over the sandbox's call history: what the account spent calling agents (`/usage/*`,
the consumer's view), what its own agents were called for and earned (`/author-usage/*`), and the workspace
metrics dashboard (`/workspaces/{id}/metrics/dashboard`, in the shape the official CLI's `metrics` command reads).

The platform documents these paths but not their shapes; the sandbox answers:

* `GET /usage`, `/author-usage` -> `{period, total_calls, successful_calls, failed_calls, input_tokens,
  output_tokens, total_tokens, cost_cents}` (the author's view adds `revenue_cents`);
* `.../timeseries` -> `{period, granularity: "day", series: [{date, calls, failed_calls, input_tokens,
  output_tokens, cost_cents}]}` (a row for every day of the period, zeros included);
* `.../breakdown` -> `{period, agents: [{org, agent_name, calls, ...}]}`; `/usage/tenants` -> `{period, tenants:
  [{tenant, calls, ...}]}`;
* `.../logs` -> `{logs: [{id, agent_name, agent_version, org, status, tenant, input_tokens, output_tokens,
  cost_cents, duration_ms, trigger_source, created_at}], total, limit, offset}`, newest first.

Filters on every view: `days` (1..365, default 30), `agent_name`, `tenant`; logs also `status`, `limit` (1..200)
and `offset`. `GET /_sandbox/platform/usage?days=&agent_name=&tenant=&author=` sums the raw history for tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..middleware import ADMIN_PREFIX
from .catalogue import ORG, iso
from .data import WorkspaceRun
from .state import PlatformState
from .wire import error, reply

__all__ = ["latency_percentile", "routes", "totals"]


class _Bad(ValueError):
    pass


def _int(raw: str | None, default: int, low: int, high: int, name: str) -> int:
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        raise _Bad(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise _Bad(f"{name} must be between {low} and {high}")
    return value


def _selected(state: PlatformState, request: Request, *, author: bool) -> tuple[int, datetime, list[WorkspaceRun]]:
    q = request.query_params
    days = _int(q.get("days"), 30, 1, 365, "days")
    since = datetime.now(UTC) - timedelta(days=days)
    runs = [r for r in state.data.runs if r.started_at >= since and r.status != "running"]
    if author:
        runs = [r for r in runs if r.org == ORG]
    if q.get("agent_name"):
        runs = [r for r in runs if r.agent_name == q["agent_name"]]
    if q.get("tenant"):
        runs = [r for r in runs if r.tenant == q["tenant"]]
    return days, since, runs


def _price(state: PlatformState, run: WorkspaceRun) -> int:
    agent = next((a for a in state.data.agents if a.org == run.org and a.name == run.agent_name), None)
    return agent.price_per_call_cents if agent else 0


def totals(state: PlatformState, runs: Iterable[WorkspaceRun], *, author: bool) -> dict[str, Any]:
    runs = list(runs)
    doc: dict[str, Any] = {
        "total_calls": len(runs),
        "successful_calls": sum(r.status == "completed" for r in runs),
        "failed_calls": sum(r.status != "completed" for r in runs),
        "input_tokens": sum(r.input_tokens for r in runs),
        "output_tokens": sum(r.output_tokens for r in runs),
        "total_tokens": sum(r.input_tokens + r.output_tokens for r in runs),
        "cost_cents": round(sum(r.cost_cents for r in runs), 4),
    }
    if author:
        doc["revenue_cents"] = sum(_price(state, r) for r in runs if r.status == "completed")
    return doc


def _row(state: PlatformState, runs: list[WorkspaceRun], author: bool) -> dict[str, Any]:
    doc = totals(state, runs, author=author)
    return {
        "calls": doc.pop("total_calls"),
        "failed_calls": doc.pop("failed_calls"),
        **{k: v for k, v in doc.items() if k != "successful_calls"},
    }


def _grouped(runs: list[WorkspaceRun], key: Callable[[WorkspaceRun], Any]) -> dict[Any, list[WorkspaceRun]]:
    groups: dict[Any, list[WorkspaceRun]] = {}
    for run in runs:
        groups.setdefault(key(run), []).append(run)
    return groups


def latency_percentile(durations: list[int], pct: float) -> int:
    """The nearest-rank percentile (0 without durations)."""
    if not durations:
        return 0
    ordered = sorted(durations)
    rank = max(1, min(len(ordered), -(-len(ordered) * pct // 100)))
    return ordered[int(rank) - 1]


def _log(run: WorkspaceRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "agent_name": run.agent_name,
        "agent_version": run.agent_version,
        "org": run.org,
        "status": run.status,
        "tenant": run.tenant,
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "cost_cents": run.cost_cents,
        "duration_ms": run.duration_ms,
        "trigger_source": run.trigger_source,
        "created_at": iso(run.started_at),
    }


_Build = Callable[[Request, int, datetime, list[WorkspaceRun], bool], dict[str, Any]]


class UsageRoutes:
    def __init__(self, state: PlatformState) -> None:
        self.s = state

    def _view(self, request: Request, author: bool, build: _Build) -> Response:
        try:
            days, since, runs = _selected(self.s, request, author=author)
            period = {"from": iso(since), "to": iso(datetime.now(UTC)), "days": days}
            return reply(self.s, {"period": period, **build(request, days, since, runs, author)})
        except _Bad as exc:
            return error(400, "INVALID_INPUT", str(exc))

    def summary(self, author: bool) -> Callable[[Request], Any]:
        def build(_r: Request, _d: int, _s: datetime, runs: list[WorkspaceRun], a: bool) -> dict[str, Any]:
            return totals(self.s, runs, author=a)

        async def handler(request: Request) -> Response:
            return self._view(request, author, build)

        return handler

    def timeseries(self, author: bool) -> Callable[[Request], Any]:
        def build(_r: Request, days: int, since: datetime, runs: list[WorkspaceRun], a: bool) -> dict[str, Any]:
            by_day = _grouped(runs, lambda r: r.started_at.date().isoformat())
            first = since.date()
            dates = [(first + timedelta(days=i)).isoformat() for i in range(days + 1)]
            return {
                "granularity": "day",
                "series": [{"date": d, **_row(self.s, by_day.get(d, []), a)} for d in dates],
            }

        async def handler(request: Request) -> Response:
            return self._view(request, author, build)

        return handler

    def breakdown(self, author: bool) -> Callable[[Request], Any]:
        def build(_r: Request, _d: int, _s: datetime, runs: list[WorkspaceRun], a: bool) -> dict[str, Any]:
            rows = [
                {"org": org, "agent_name": name, **_row(self.s, group, a)}
                for (org, name), group in _grouped(runs, lambda r: (r.org, r.agent_name)).items()
            ]
            rows.sort(key=lambda r: (-r["cost_cents"], r["agent_name"]))
            return {"agents": rows}

        async def handler(request: Request) -> Response:
            return self._view(request, author, build)

        return handler

    async def tenants(self, request: Request) -> Response:
        def build(_r: Request, _d: int, _s: datetime, runs: list[WorkspaceRun], a: bool) -> dict[str, Any]:
            groups = _grouped(runs, lambda r: r.tenant)
            rows = [{"tenant": tenant, **_row(self.s, group, a)} for tenant, group in groups.items()]
            rows.sort(key=lambda r: (r["tenant"] is None, r["tenant"] or ""))
            return {"tenants": rows}

        return self._view(request, False, build)

    def logs(self, author: bool) -> Callable[[Request], Any]:
        def build(request: Request, _d: int, _s: datetime, runs: list[WorkspaceRun], _a: bool) -> dict[str, Any]:
            q = request.query_params
            limit = _int(q.get("limit"), 50, 1, 200, "limit")
            offset = _int(q.get("offset"), 0, 0, 1_000_000, "offset")
            if q.get("status"):
                runs = [r for r in runs if r.status == q["status"]]
            runs = sorted(runs, key=lambda r: (r.started_at, r.id), reverse=True)
            return {
                "logs": [_log(r) for r in runs[offset : offset + limit]],
                "total": len(runs),
                "limit": limit,
                "offset": offset,
            }

        async def handler(request: Request) -> Response:
            return self._view(request, author, build)

        return handler

    async def dashboard(self, request: Request) -> Response:
        ws = request.path_params["workspace_id"]
        if ws not in self.s.workspace_ids():
            return error(403, "FORBIDDEN", "Not a member of this workspace")
        try:
            days, _since, runs = _selected(self.s, request, author=False)
        except _Bad as exc:
            return error(400, "INVALID_INPUT", str(exc))
        runs = [r for r in runs if r.workspace_id == ws]
        agents = []
        for name, group in sorted(_grouped(runs, lambda r: r.agent_name).items()):
            errors = Counter(r.error_message for r in group if r.error_message)
            agents.append(
                {
                    "agent_name": name,
                    "agent_id": next((a.id for a in self.s.data.agents if a.name == name and a.org == ORG), ""),
                    "latest_version": max(r.agent_version for r in group),
                    **_overview(group, days, per_day=False),
                    "top_error": errors.most_common(1)[0][0] if errors else None,
                    "trigger_sources": dict(Counter(r.trigger_source for r in group)),
                }
            )
        by_day = _grouped(runs, lambda r: r.started_at.date().isoformat())
        series = [
            {"date": d, "runs": len(g), "failed": sum(r.status != "completed" for r in g)} for d, g in by_day.items()
        ]
        return reply(
            self.s,
            {
                "overview": _overview(runs, days, per_day=True),
                "agents": agents,
                "daily_series": sorted(series, key=lambda row: row["date"]),
                "period": f"{days}d",
                "total_agents": len(agents),
            },
        )

    async def expected(self, request: Request) -> Response:
        """`GET /_sandbox/platform/usage`: the raw history summed, for tests to compare with."""
        author = request.query_params.get("author") in ("1", "true")
        _days, _since, runs = _selected(self.s, request, author=author)
        doc = totals(self.s, runs, author=author)
        doc["by_agent"] = {f"{o}/{n}": len(g) for (o, n), g in _grouped(runs, lambda r: (r.org, r.agent_name)).items()}
        doc["by_tenant"] = {str(t): len(g) for t, g in _grouped(runs, lambda r: r.tenant).items()}
        durations = [r.duration_ms or 0 for r in runs if r.workspace_id == request.query_params.get("workspace")]
        doc["p50_latency_ms"] = latency_percentile(durations, 50)
        doc["p95_latency_ms"] = latency_percentile(durations, 95)
        return JSONResponse(doc)


def _overview(runs: list[WorkspaceRun], days: int, *, per_day: bool) -> dict[str, Any]:
    total = len(runs)
    completed = sum(r.status == "completed" for r in runs)
    failed = sum(r.status == "failed" for r in runs)
    timeout = sum(r.status == "timeout" for r in runs)
    durations = [r.duration_ms or 0 for r in runs]
    doc: dict[str, Any] = {
        "total_runs": total,
        "completed": completed,
        "failed": failed,
        "timeout": timeout,
        "success_rate": round(100 * completed / total, 1) if total else 0,
        "error_rate": round(100 * (failed + timeout) / total, 1) if total else 0,
        "p50_latency_ms": latency_percentile(durations, 50),
        "p95_latency_ms": latency_percentile(durations, 95),
        "avg_latency_ms": round(sum(durations) / total) if total else 0,
    }
    if per_day:
        doc["runs_per_day"] = round(total / days, 1)
    return doc


def routes(state: PlatformState) -> list[BaseRoute]:
    u = UsageRoutes(state)
    found: list[BaseRoute] = [Route(f"{ADMIN_PREFIX}/platform/usage", u.expected, methods=["GET"])]
    for prefix, author in (("/usage", False), ("/author-usage", True)):
        found += [
            Route(prefix, u.summary(author), methods=["GET"]),
            Route(f"{prefix}/timeseries", u.timeseries(author), methods=["GET"]),
            Route(f"{prefix}/breakdown", u.breakdown(author), methods=["GET"]),
            Route(f"{prefix}/logs", u.logs(author), methods=["GET"]),
        ]
    found += [
        Route("/usage/tenants", u.tenants, methods=["GET"]),
        Route("/workspaces/{workspace_id}/metrics/dashboard", u.dashboard, methods=["GET"]),
    ]
    return found
