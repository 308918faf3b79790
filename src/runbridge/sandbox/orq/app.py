"""The orq.ai agents wire app (docs/backends/orq.md): routes, the bearer guard, errors, and the middleware stack.

Stack, outermost first: a crash handler (a plain 500 `{"message"}`), `SandboxMiddleware` (counts requests, answers
injected 429/503 bursts), `OrqGuard` (401 `{"message"}` without the API key), the router. The sandbox admin paths
need no key.
"""

from __future__ import annotations

import math
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
from .execution import Execution
from .routes import Routes
from .state import OrqState

__all__ = ["OrqGuard", "build_app"]


class OrqGuard:
    """Pure ASGI middleware: `Authorization: Bearer <api key>` on every path but the admin ones."""

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.api_key:
            body = {"message": "Unauthorized: invalid or missing API key", "code": "unauthorized"}
            await JSONResponse(body, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"message": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _crash(request: Request, exc: Exception) -> Response:
    return JSONResponse({"message": "Internal server error"}, status_code=500)


def _burst(burst: Burst) -> Response:
    message = "Too many requests" if burst.status == 429 else "Service temporarily unavailable"
    headers = {"Retry-After": str(math.ceil(burst.retry_after))}
    return JSONResponse({"message": message}, status_code=burst.status, headers=headers)


def build_app(ctx: SandboxContext, variant: Any = None) -> Starlette:
    """An orq.ai agents API with the seeded agents (`state.SEED_AGENTS`). It has no variants."""
    if variant not in (None, "reference"):
        raise ValueError(f"unknown orq variant {variant!r}; known: reference")
    state = OrqState(ctx.api_key)
    rest, run = Routes(state), Execution(state, ctx)
    routes: list[BaseRoute] = [
        Route("/v2/agents", rest.create, methods=["POST"]),
        Route("/v2/agents", rest.list, methods=["GET"]),
        Route("/v2/agents/run", run.run, methods=["POST"]),
        Route("/v2/agents/stream-run", run.stream_run, methods=["POST"]),
        Route("/v2/agents/external", rest.create_external, methods=["POST"]),
        Route("/v2/agents/external", rest.list_external, methods=["GET"]),
        Route("/v2/agents/external/{agent_key}", rest.refresh_card, methods=["POST"]),
        Route("/v2/agents/external/{agent_key}", rest.get_external, methods=["GET"]),
        Route("/v2/agents/external/{agent_key}", rest.delete_external, methods=["DELETE"]),
        Route("/v2/agents/{agent_key}", rest.retrieve, methods=["GET"]),
        Route("/v2/agents/{agent_key}", rest.update, methods=["PATCH"]),
        Route("/v2/agents/{agent_key}", rest.delete, methods=["DELETE"]),
        Route("/v2/agents/{key}/task", run.task, methods=["POST"]),
        Route("/v2/agents/{key}/stream-task", run.stream_task, methods=["POST"]),
        Route("/v2/agents/{key}/responses", run.create_response, methods=["POST"]),
        Route("/v2/agents/{key}/responses/{task_id}", run.get_response, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/orq/reviews/{{task_id}}", rest.review, methods=["POST"]),
        *admin_routes(ctx),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(OrqGuard, api_key=ctx.api_key)],
        exception_handlers={HTTPException: _http_error, Exception: _crash},
    )
    app.state.orq = state
    app.add_middleware(SandboxMiddleware, ctx=ctx, routes=routes, burst_response=_burst)
    return app
