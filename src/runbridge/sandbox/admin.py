"""The `/_sandbox/*` admin endpoints every family app mounts: steer faults and read counters from another process.

* `GET /_sandbox/stats`, `DELETE /_sandbox/stats` (reset)
* `GET /_sandbox/faults`, `POST /_sandbox/faults` (a `FaultPlan.configure` document), `DELETE /_sandbox/faults`
* `GET /_sandbox/workflows` (ids, names, steps), `GET /_sandbox/runs` (ids, workflows, statuses)

Unauthenticated, like the rest of a loopback sandbox's tooling; errors are `{"error", "message"}`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .context import SandboxContext
from .model import Workflow

__all__ = ["admin_routes", "describe_workflow"]


def describe_workflow(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "maxCostUsd": workflow.max_cost_usd,
        "steps": [
            {"id": s.id, "name": s.name, "kind": s.kind, "gate": s.gate.kind if s.gate else None}
            for s in workflow.steps
        ],
    }


def admin_routes(ctx: SandboxContext) -> list[Route]:
    """The admin routes bound to one sandbox's shared state."""

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.stats.reset()
            return Response(status_code=204)
        return JSONResponse(ctx.stats.snapshot())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.faults.clear()
            return Response(status_code=204)
        if request.method == "GET":
            return JSONResponse(ctx.faults.describe())
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return JSONResponse(ctx.faults.configure(body))
        except ValueError as exc:
            return JSONResponse({"error": "validation_error", "message": str(exc)}, status_code=400)

    async def workflows(request: Request) -> Response:
        return JSONResponse({"workflows": [describe_workflow(w) for w in ctx.engine.workflows.values()]})

    async def runs(request: Request) -> Response:
        items = [{"runId": r.id, "workflowId": r.workflow.id, "status": r.status} for r in ctx.engine.runs()]
        return JSONResponse({"runs": items})

    return [
        Route("/_sandbox/stats", stats, methods=["GET", "DELETE"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/workflows", workflows, methods=["GET"]),
        Route("/_sandbox/runs", runs, methods=["GET"]),
    ]
