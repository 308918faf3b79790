"""Workspace administration on the platform sandbox: schedules (cron and webhook, triggered synchronously, their
runs and events) and the unauthenticated webhook trigger, in the shapes the official CLI's `schedule` command reads
(`{"schedules": [...], "total"}`, `{"schedule": {...}}`). Services are in `admin_services.py`.

A webhook schedule's full URL (with its secret) is in the answer that creates it, and never again: later answers
carry `webhook_secret_preview` only. The account's own settings (workspaces, secrets, billing, API keys) are in
`admin_account.py`.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .catalogue import ORG, iso
from .data import WorkspaceRun
from .state import PlatformState
from .wire import error, json_body, reply, workspace_of

__all__ = ["routes"]

_SCHEDULE_FIELDS = (
    "cron_expression",
    "timezone",
    "input_data",
    "llm_provider",
    "enabled",
    "auto_update",
    "alert_webhook_url",
    "alert_on_failure_count",
    "agent_version",
)


class AdminRoutes:
    def __init__(self, state: PlatformState) -> None:
        self.s = state
        self.webhook_secrets: dict[str, str] = {}  # schedule id -> its secret (never served again)
        self.events: dict[str, list[dict[str, Any]]] = {}  # schedule id -> its events

    def _event(self, schedule_id: str, kind: str, message: str) -> None:
        self.events.setdefault(schedule_id, []).append(
            {"id": str(uuid.uuid4()), "event_type": kind, "message": message, "created_at": iso(datetime.now(UTC))}
        )

    # -- schedules ------------------------------------------------------------------------------------------------

    def _schedule(self, request: Request) -> tuple[str, dict[str, Any]] | Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        sid = request.path_params["schedule_id"]
        found = next((s for s in self.s.data.schedules.get(ws, []) if s["id"] == sid), None)
        return (ws, found) if found else error(404, "NOT_FOUND", f"Schedule {sid} not found")

    async def list_schedules(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        q = request.query_params
        found = list(self.s.data.schedules.get(ws, []))
        if q.get("agent_name"):
            found = [s for s in found if s["agent_name"] == q["agent_name"]]
        if q.get("schedule_type"):
            found = [s for s in found if s["schedule_type"] == q["schedule_type"]]
        limit = int(q.get("limit") or 100)
        return reply(self.s, {"schedules": found[:limit], "total": len(found)})

    async def create_schedule(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        kind = body.get("schedule_type", "cron")
        if kind not in ("cron", "webhook"):
            return error(400, "INVALID_INPUT", "schedule_type must be cron or webhook")
        if kind == "cron" and not body.get("cron_expression"):
            return error(400, "INVALID_INPUT", "cron_expression is required for a cron schedule")
        agent = next(
            (a for a in self.s.live_agents() if a.org == ORG and a.name == body.get("agent_name")),
            None,
        )
        if agent is None:
            return error(404, "NOT_FOUND", f"Agent {body.get('agent_name')!r} not found in this workspace")
        now = datetime.now(UTC)
        sid = str(uuid.uuid4())
        doc: dict[str, Any] = {
            "id": sid,
            "workspace_id": ws,
            "agent_id": agent.id,
            "agent_name": agent.name,
            "agent_version": body.get("agent_version") or agent.version,
            "schedule_type": kind,
            "cron_expression": body.get("cron_expression") if kind == "cron" else None,
            "timezone": body.get("timezone") or "UTC",
            "input_data": body.get("input_data") or {},
            "llm_provider": body.get("llm_provider"),
            "enabled": True,
            "auto_update": bool(body.get("auto_update", False)),
            "last_run_at": None,
            "last_run_status": None,
            "next_run_at": iso(now + timedelta(hours=1)) if kind == "cron" else None,
            "run_count": 0,
            "consecutive_failures": 0,
            "max_consecutive_failures": 5,
            "auto_disabled_at": None,
            "alert_webhook_url": body.get("alert_webhook_url"),
            "alert_on_failure_count": 3,
            "created_at": iso(now),
        }
        shown = dict(doc)
        if kind == "webhook":
            secret = f"whsec_{secrets.token_hex(16)}"
            self.webhook_secrets[sid] = secret
            doc["webhook_secret_preview"] = f"whsec_…{secret[-4:]}"
            shown |= {
                "webhook_secret_preview": doc["webhook_secret_preview"],
                "webhook_secret": secret,
                "webhook_url": f"{str(request.base_url).rstrip('/')}/webhooks/{sid}/{secret}",
            }
        self.s.data.schedules.setdefault(ws, []).append(doc)
        self._event(sid, "created", f"Schedule created ({kind})")
        return reply(self.s, {"schedule": shown}, status=201)

    async def get_schedule(self, request: Request) -> Response:
        found = self._schedule(request)
        return found if isinstance(found, Response) else reply(self.s, {"schedule": found[1]})

    async def update_schedule(self, request: Request) -> Response:
        found = self._schedule(request)
        if isinstance(found, Response):
            return found
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        unknown = sorted(set(body) - set(_SCHEDULE_FIELDS))
        if unknown:
            return error(400, "INVALID_INPUT", f"Unknown or immutable fields: {', '.join(unknown)}")
        found[1].update(body)
        self._event(found[1]["id"], "updated", f"Updated: {', '.join(sorted(body))}")
        return reply(self.s, {"schedule": found[1]})

    async def delete_schedule(self, request: Request) -> Response:
        found = self._schedule(request)
        if isinstance(found, Response):
            return found
        ws, doc = found
        self.s.data.schedules[ws] = [s for s in self.s.data.schedules[ws] if s["id"] != doc["id"]]
        self.webhook_secrets.pop(doc["id"], None)
        return reply(self.s, {"deleted": True})

    def _run(self, ws: str, schedule: dict[str, Any], override: dict[str, Any], trigger: str) -> WorkspaceRun:
        now = datetime.now(UTC)
        run = WorkspaceRun(
            id=str(uuid.uuid4()),
            workspace_id=ws,
            agent_name=schedule["agent_name"],
            agent_version=schedule["agent_version"],
            org=ORG,
            status="completed",
            trigger_source=trigger,
            started_at=now,
            duration_ms=420,
            input_data=override or dict(schedule.get("input_data") or {}),
            output_data={"summary": f"{schedule['agent_name']} ran on {trigger}"},
            input_tokens=300,
            output_tokens=80,
            cost_cents=round((300 * 0.15 + 80 * 0.6) / 10_000, 4),
        )
        self.s.data.runs.append(run)
        schedule.update(last_run_at=iso(now), last_run_status="completed", run_count=schedule["run_count"] + 1)
        self._event(schedule["id"], "triggered", f"Run {run.id} triggered by {trigger}")
        return run

    async def trigger(self, request: Request) -> Response:
        found = self._schedule(request)
        if isinstance(found, Response):
            return found
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        run = self._run(found[0], found[1], body, "manual")
        return reply(
            self.s,
            {
                "run_id": run.id,
                "status": run.status,
                "duration_ms": run.duration_ms,
                "output": run.output_data,
                "error": run.error_message,
            },
        )

    async def schedule_runs(self, request: Request) -> Response:
        found = self._schedule(request)
        if isinstance(found, Response):
            return found
        q = request.query_params
        doc = found[1]
        runs = [
            r
            for r in sorted(self.s.runs_of(found[0]), key=lambda r: r.started_at, reverse=True)
            if r.agent_name == doc["agent_name"] and r.trigger_source in ("schedule", "webhook", "manual")
        ]
        if q.get("status"):
            runs = [r for r in runs if r.status == q["status"]]
        limit = int(q.get("limit") or 20)
        rows = [
            {
                "id": r.id,
                "status": r.status,
                "error_message": r.error_message,
                "duration_ms": r.duration_ms,
                "trigger_source": r.trigger_source,
                "started_at": iso(r.started_at),
            }
            for r in runs[:limit]
        ]
        return reply(self.s, {"runs": rows, "total": len(runs)})

    async def schedule_events(self, request: Request) -> Response:
        found = self._schedule(request)
        if isinstance(found, Response):
            return found
        limit = int(request.query_params.get("limit") or 50)
        events = list(reversed(self.events.get(found[1]["id"], [])))
        return reply(self.s, {"events": events[:limit]})

    async def webhook(self, request: Request) -> Response:
        sid, secret = request.path_params["schedule_id"], request.path_params["secret"]
        if not secrets.compare_digest(self.webhook_secrets.get(sid, ""), secret):
            return error(404, "NOT_FOUND", "Webhook not found")
        for ws, schedules in self.s.data.schedules.items():
            for schedule in schedules:
                if schedule["id"] == sid:
                    body = await json_body(request)
                    run = self._run(ws, schedule, body if isinstance(body, dict) else {}, "webhook")
                    return reply(self.s, {"run_id": run.id, "status": run.status}, status=202)
        return error(404, "NOT_FOUND", "Webhook not found")


def routes(state: PlatformState) -> list[BaseRoute]:
    a = AdminRoutes(state)
    sched = "/workspaces/{workspace_id}/schedules"
    return [
        Route(sched, a.list_schedules, methods=["GET"]),
        Route(sched, a.create_schedule, methods=["POST"]),
        Route(sched + "/{schedule_id}", a.get_schedule, methods=["GET"]),
        Route(sched + "/{schedule_id}", a.update_schedule, methods=["PATCH"]),
        Route(sched + "/{schedule_id}", a.delete_schedule, methods=["DELETE"]),
        Route(sched + "/{schedule_id}/trigger", a.trigger, methods=["POST"]),
        Route(sched + "/{schedule_id}/runs", a.schedule_runs, methods=["GET"]),
        Route(sched + "/{schedule_id}/events", a.schedule_events, methods=["GET"]),
        Route("/webhooks/{schedule_id}/{secret}", a.webhook, methods=["POST"]),
    ]
