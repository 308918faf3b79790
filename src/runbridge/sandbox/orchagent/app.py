"""The orchagent wire app (docs/backends/orchagent.md): routes, the bearer guard, errors, and the middleware stack.

Stack, outermost first: Starlette's crash handler (a plain-text 500, as FastAPI sends), `SandboxMiddleware`
(counts requests, answers injected 429/503 bursts), `OrchagentGuard` (401 without a valid token), the router.
`/auth/*`, `/meta`, `/oauth/authorize` and the sandbox admin paths need no token.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..admin import admin_routes
from ..context import SandboxContext
from ..faults import Burst
from ..middleware import ADMIN_PREFIX, SandboxMiddleware
from .routes import Routes
from .state import OrchagentState, OrchagentVariant, resolve_variant
from .stream import StreamRoutes

__all__ = ["OrchagentGuard", "build_app"]

_OPEN = ("/auth/", "/meta", "/oauth/", ADMIN_PREFIX)


class OrchagentGuard:
    """Pure ASGI middleware: a valid `Authorization: Bearer <token>` on every protected path; sets `state.user`."""

    def __init__(self, app: ASGIApp, *, state: OrchagentState) -> None:
        self.app = app
        self.s = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(_OPEN):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        user = self.s.user_for(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            response = JSONResponse(
                {"detail": "Not authenticated"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _crash(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("Internal Server Error", status_code=500)


def _burst(burst: Burst) -> Response:
    detail = "Too many requests" if burst.status == 429 else "Service temporarily unavailable"
    headers = {"Retry-After": str(math.ceil(burst.retry_after))}
    return JSONResponse({"detail": detail}, status_code=burst.status, headers=headers)


def build_app(ctx: SandboxContext, variant: str | OrchagentVariant | dict[str, Any] | None = None) -> Starlette:
    """An orchagent server of the given variant (a name from `VARIANTS`, an `OrchagentVariant`, or overrides)."""
    state = OrchagentState(ctx, resolve_variant(variant))
    rest, stream = Routes(state), StreamRoutes(state)
    routes: list[BaseRoute] = [
        Route("/auth/register", rest.register, methods=["POST"]),
        Route("/auth/login", rest.login, methods=["POST"]),
        Route("/meta", rest.meta, methods=["GET"]),
        Route("/oauth/authorize", rest.oauth, methods=["GET"]),
        Route("/threads", rest.create_thread, methods=["POST"]),
        Route("/threads/{thread_id}/secrets", rest.set_secrets, methods=["POST"]),
        Route("/threads/{thread_id}/history", rest.history, methods=["GET"]),
        Route("/threads/{thread_id}/messages", rest.send_message, methods=["POST"]),
        Route("/runs/{run_id}/events", stream.events, methods=["GET"]),
        Route("/runs/{run_id}/resume", rest.resume, methods=["POST"]),
        Route("/approvals/clear", rest.clear, methods=["POST"]),
        Route("/approvals/{run_id}/approve", rest.approve, methods=["POST"]),
        *admin_routes(ctx),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(OrchagentGuard, state=state)],
        exception_handlers={HTTPException: _http_error, Exception: _crash},
    )
    app.state.orchagent = state
    # Outermost: counting and bursts see every request, even ones the guard refuses.
    app.add_middleware(SandboxMiddleware, ctx=ctx, routes=routes, burst_response=_burst)
    return app
