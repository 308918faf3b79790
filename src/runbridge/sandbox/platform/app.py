"""The orchagent.io platform wire app (docs/backends/platform.md): routes, the bearer guard, the quota headers, and
the middleware stack.

Stack, outermost first: Starlette's crash handler, `SandboxMiddleware` (counts requests, answers injected bursts
with the platform's 429 envelope), `QuotaHeaders` (the `X-RateLimit-*` headers on every answer, forced 429s),
`PlatformGuard` (401 envelope without the key; the public catalogue needs none), the router.

Each group of routes is one module; `ROUTE_GROUPS` lists them. A further group (usage views, administration) is a
module with a `routes(state) -> list[BaseRoute]` function, added to `ROUTE_GROUPS` with one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..admin import admin_routes
from ..context import SandboxContext
from ..faults import Burst
from ..middleware import ADMIN_PREFIX, SandboxMiddleware
from . import admin, admin_account, admin_services, usage
from .agents import AgentRoutes
from .calls import CallRoutes
from .runs import RunRoutes
from .state import PlatformState, PlatformVariant, resolve_variant
from .wire import QuotaHeaders, error

__all__ = ["ROUTE_GROUPS", "PlatformGuard", "build_app"]

_OPEN = ("/public/", "/webhooks/", ADMIN_PREFIX)  # a webhook's secret is in its URL


def _agent_routes(state: PlatformState) -> list[BaseRoute]:
    a = AgentRoutes(state)
    return [
        Route("/public/agents", a.list_public, methods=["GET"]),
        Route("/public/agents/{org}/{agent}/{version}", a.get_public, methods=["GET"]),
        Route("/public/agents/{org}/{agent}/{version}/download", a.download, methods=["GET"]),
        Route("/agents", a.list_mine, methods=["GET"]),
        Route("/agents", a.create, methods=["POST"]),
        Route("/agents/{agent_id}", a.get_mine, methods=["GET"]),
        Route("/agents/{agent_id}", a.update, methods=["PATCH"]),
        Route("/agents/{agent_id}", a.delete, methods=["DELETE"]),
        Route("/agents/{agent_id}/delete-check", a.delete_check, methods=["GET"]),
        Route("/agents/{agent_id}/fork", a.fork, methods=["POST"]),
    ]


def _run_routes(state: PlatformState) -> list[BaseRoute]:
    r = RunRoutes(state)
    return [
        Route("/workspaces", r.workspaces, methods=["GET"]),
        Route("/workspaces/{workspace_id}/runs", r.runs, methods=["GET"]),
        Route("/workspaces/{workspace_id}/runs/{run_id}/logs", r.logs, methods=["GET"]),
    ]


def _call_routes(state: PlatformState) -> list[BaseRoute]:
    # Last: `/{org}/{agent}/{version}/{endpoint}` would match any other four-segment path.
    return [Route("/{org}/{agent}/{version}/{endpoint}", CallRoutes(state).call, methods=["POST"])]


ROUTE_GROUPS: list[Callable[[PlatformState], list[BaseRoute]]] = [
    _agent_routes,
    _run_routes,
    # usage views and administration mount here, one line each, before the calls
    usage.routes,
    admin.routes,
    admin_services.routes,
    admin_account.routes,
    _call_routes,
]


class PlatformGuard:
    """Pure ASGI middleware: `Authorization: Bearer <key>` on every path but the public catalogue."""

    def __init__(self, app: ASGIApp, *, state: PlatformState) -> None:
        self.app = app
        self.s = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(_OPEN):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not self.s.authorised(token.strip()):
            response = error(401, "UNAUTHORIZED", "Invalid or missing API key")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "ERROR")
    return error(exc.status_code, code, str(exc.detail))


async def _crash(request: Request, exc: Exception) -> Response:
    return error(500, "INTERNAL_ERROR", "Internal server error", retryable=True)


def _burst(burst: Burst) -> Response:
    if burst.status == 429:
        return error(
            429, "RATE_LIMITED", "Rate limit exceeded. Try again later.", retryable=True, wait=burst.retry_after
        )
    return error(burst.status, "SERVICE_UNAVAILABLE", "Service temporarily unavailable", retryable=True)


def _sandbox_routes(state: PlatformState) -> list[BaseRoute]:
    """`GET/POST /_sandbox/platform`: read and steer the quota, forced 429s, the balance and workspace secrets."""

    async def platform(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(state.describe())
        try:
            body: Any = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return JSONResponse(state.configure(body))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": "validation_error", "message": str(exc)}, status_code=400)

    return [Route(f"{ADMIN_PREFIX}/platform", platform, methods=["GET", "POST"])]


def build_app(ctx: SandboxContext, variant: str | PlatformVariant | dict[str, Any] | None = None) -> Starlette:
    """A platform server of the given variant (`reference`, the default, or `enveloped`; or a `PlatformVariant`)."""
    state = PlatformState(ctx, resolve_variant(variant))
    routes: list[BaseRoute] = [*admin_routes(ctx), *_sandbox_routes(state)]
    for group in ROUTE_GROUPS:
        routes += group(state)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(QuotaHeaders, state=state), Middleware(PlatformGuard, state=state)],
        exception_handlers={HTTPException: _http_error, Exception: _crash},
    )
    app.state.platform = state
    app.add_middleware(SandboxMiddleware, ctx=ctx, routes=routes, burst_response=_burst)
    return app
