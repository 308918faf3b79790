"""The workspaces the key can see (`GET /workspaces`) and each workspace's run history: `GET
/workspaces/{id}/runs` (filters `agent_name`, `status`, `run_id_prefix`, `limit` 1..200) and `GET
/workspaces/{id}/runs/{run_id}/logs`, in the shapes the official CLI's `logs` command reads."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .catalogue import iso
from .data import WorkspaceRun
from .state import PlatformState
from .wire import error, reply, workspace_of

__all__ = ["RunRoutes", "run_summary"]


def run_summary(run: WorkspaceRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "agent_name": run.agent_name,
        "agent_version": run.agent_version,
        "status": run.status,
        "error_message": run.error_message,
        "duration_ms": run.duration_ms,
        "trigger_source": run.trigger_source,
        "started_at": iso(run.started_at),
        "created_at": iso(run.started_at),
    }


def run_logs(run: WorkspaceRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "agent_name": run.agent_name,
        "agent_version": run.agent_version,
        "run_status": run.status,
        "error_message": run.error_message,
        "input_data": run.input_data,
        "output_data": run.output_data,
        "has_execution_log": bool(run.log),
        "execution_log": run.log,
        "stdout": run.stdout,
        "stderr": run.stderr,
        "exit_code": run.exit_code,
        "execution_time_ms": run.duration_ms,
    }


class RunRoutes:
    def __init__(self, state: PlatformState) -> None:
        self.s = state

    async def workspaces(self, request: Request) -> Response:
        return reply(self.s, {"workspaces": self.s.data.workspaces})

    async def runs(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        q = request.query_params
        try:
            limit = int(q.get("limit") or 50)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 200:
            return error(400, "INVALID_INPUT", "limit must be between 1 and 200")
        runs = sorted(self.s.runs_of(ws), key=lambda r: r.started_at, reverse=True)
        if q.get("agent_name"):
            runs = [r for r in runs if r.agent_name == q["agent_name"]]
        if q.get("status"):
            runs = [r for r in runs if r.status == q["status"]]
        if q.get("run_id_prefix"):
            runs = [r for r in runs if r.id.startswith(q["run_id_prefix"])]
        return reply(self.s, {"runs": [run_summary(r) for r in runs[:limit]], "total": len(runs)})

    async def logs(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        run = self.s.find_run(ws, request.path_params["run_id"])
        if run is None:
            return error(404, "NOT_FOUND", "Run not found")
        return reply(self.s, run_logs(run))
