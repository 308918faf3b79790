"""Always-on services on the platform sandbox (deploy, read, update, restart, delete, logs), in the shapes the
official CLI's `service` command reads (`{"services": [...], "total"}`, `{"service": {...}}`, `{"logs": [...]}`).
The seeded services get every field that command reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .catalogue import ORG, iso
from .state import PlatformState
from .wire import error, json_body, reply, workspace_of

__all__ = ["routes"]

_SERVICE_FIELDS = ("min_instances", "max_instances", "env", "secret_names", "desired_state", "auto_update")
_SERVICE_DEFAULTS: dict[str, Any] = {
    "desired_state": "running",
    "min_instances": 1,
    "max_instances": 1,
    "restart_count": 0,
    "consecutive_restart_failures": 0,
    "auto_paused_at": None,
    "auto_update": True,
    "env_json": {},
    "secret_names": [],
    "last_restart_at": None,
}


def _complete(services: dict[str, list[dict[str, Any]]]) -> None:
    """The seeded services with every field the CLI's `service` command reads."""
    for ws, found in services.items():
        for doc in found:
            for key, value in _SERVICE_DEFAULTS.items():
                doc.setdefault(key, value)
            doc.setdefault("workspace_id", ws)
            doc.setdefault("last_deployed_at", doc.get("created_at"))
            doc.setdefault("updated_at", doc.get("created_at"))


class ServiceRoutes:
    def __init__(self, state: PlatformState) -> None:
        self.s = state
        _complete(state.data.services)

    def _service(self, request: Request) -> tuple[str, dict[str, Any]] | Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        sid = request.path_params["service_id"]
        found = next((s for s in self.s.data.services.get(ws, []) if s["id"] == sid), None)
        return (ws, found) if found else error(404, "NOT_FOUND", f"Service {sid} not found")

    async def list_services(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        found = list(self.s.data.services.get(ws, []))
        if request.query_params.get("status"):
            found = [s for s in found if s["current_state"] == request.query_params["status"]]
        return reply(self.s, {"services": found, "total": len(found)})

    async def deploy(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        agent = next((a for a in self.s.live_agents() if a.org == ORG and a.name == body.get("agent_name")), None)
        if agent is None:
            return error(404, "NOT_FOUND", f"Agent {body.get('agent_name')!r} not found in this workspace")
        missing = sorted(set(body.get("secret_names") or []) - self.s.secret_names(ws))
        if missing:
            return error(400, "MISSING_SECRETS", f"Secrets not found in workspace: {', '.join(missing)}.")
        now = iso(datetime.now(UTC))
        doc = {
            "id": str(uuid.uuid4()),
            "workspace_id": ws,
            "service_name": body.get("service_name") or agent.name,
            "agent_id": agent.id,
            "agent_name": agent.name,
            "agent_version": agent.version if body.get("agent_version") in (None, "latest") else body["agent_version"],
            "desired_state": "running",
            "current_state": "provisioning",
            "health_status": "unknown",
            "min_instances": int(body.get("min_instances") or 1),
            "max_instances": int(body.get("max_instances") or 1),
            "restart_count": 0,
            "consecutive_restart_failures": 0,
            "auto_paused_at": None,
            "auto_update": body.get("auto_update", True),
            "env_json": body.get("env") or {},
            "secret_names": body.get("secret_names") or [],
            "last_deployed_at": now,
            "created_at": now,
            "updated_at": now,
        }
        self.s.data.services.setdefault(ws, []).append(doc)
        return reply(self.s, {"service": doc}, status=201)

    async def get_service(self, request: Request) -> Response:
        found = self._service(request)
        return found if isinstance(found, Response) else reply(self.s, {"service": found[1]})

    async def update_service(self, request: Request) -> Response:
        found = self._service(request)
        if isinstance(found, Response):
            return found
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        unknown = sorted(set(body) - set(_SERVICE_FIELDS))
        if unknown:
            return error(400, "INVALID_INPUT", f"Unknown or immutable fields: {', '.join(unknown)}")
        found[1].update({("env_json" if k == "env" else k): v for k, v in body.items()})
        found[1]["updated_at"] = iso(datetime.now(UTC))
        return reply(self.s, {"service": found[1]})

    async def restart(self, request: Request) -> Response:
        found = self._service(request)
        if isinstance(found, Response):
            return found
        doc = found[1]
        doc.update(restart_count=doc["restart_count"] + 1, current_state="running", health_status="healthy")
        doc["last_restart_at"] = iso(datetime.now(UTC))
        return reply(self.s, {"service": doc})

    async def delete_service(self, request: Request) -> Response:
        found = self._service(request)
        if isinstance(found, Response):
            return found
        ws, doc = found
        self.s.data.services[ws] = [s for s in self.s.data.services[ws] if s["id"] != doc["id"]]
        return reply(self.s, {"deleted": True})

    async def service_logs(self, request: Request) -> Response:
        found = self._service(request)
        if isinstance(found, Response):
            return found
        limit = int(request.query_params.get("limit") or 100)
        start = datetime.now(UTC) - timedelta(minutes=10)
        logs = [
            {"timestamp": iso(start + timedelta(seconds=30 * i)), "severity": sev, "message": msg}
            for i, (sev, msg) in enumerate(
                [("INFO", "Service starting"), ("INFO", "Listening on :8080"), ("WARNING", "Slow upstream (2.1s)")]
                + [("INFO", f"Handled event {n}") for n in range(1, 8)]
            )
        ]
        return reply(self.s, {"logs": logs[-limit:]})


def routes(state: PlatformState) -> list[BaseRoute]:
    a = ServiceRoutes(state)
    svc = "/workspaces/{workspace_id}/services"
    return [
        Route(svc, a.list_services, methods=["GET"]),
        Route(svc, a.deploy, methods=["POST"]),
        Route(svc + "/{service_id}", a.get_service, methods=["GET"]),
        Route(svc + "/{service_id}", a.update_service, methods=["PATCH"]),
        Route(svc + "/{service_id}", a.delete_service, methods=["DELETE"]),
        Route(svc + "/{service_id}/restart", a.restart, methods=["POST"]),
        Route(svc + "/{service_id}/logs", a.service_logs, methods=["GET"]),
    ]
