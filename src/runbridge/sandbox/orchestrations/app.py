"""The Synapse orchestrations wire app: routes, the API-key gate, FastAPI-shaped errors, and the sandbox layer.

Stack, outermost first: Starlette's crash handler (500 `{"detail"}`), `SandboxMiddleware` (counts requests,
answers injected 429/503 bursts), `ApiKeyGate` (401 with `WWW-Authenticate: Bearer` on `/api/` paths without the
key), Starlette's HTTP errors as `{"detail": "Not Found"}`, the router.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..admin import admin_routes
from ..context import SandboxContext
from ..middleware import SandboxMiddleware
from .errors import burst_response, detail
from .settings import OrchestrationsSettings, resolve_settings
from .state import OrchestrationsState
from .v1 import V1Routes
from .v2 import V2Routes

__all__ = ["ApiKeyGate", "build_app"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class ApiKeyGate:
    """Every `/api/` route needs `Authorization: Bearer <key>`: 401 "Not authenticated" without one, 401 "Invalid
    or revoked API key" with a wrong one (docs/backends/orchestrations.md)."""

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self._expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, key = given.partition(b" ")
        if scheme.lower() != b"bearer" or not key.strip():
            await detail(401, "Not authenticated", _CHALLENGE)(scope, receive, send)
            return
        if not hmac.compare_digest(key.strip(), self._expected):
            await detail(401, "Invalid or revoked API key", _CHALLENGE)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return detail(exc.status_code, str(exc.detail), exc.headers)


async def _crash(request: Request, exc: Exception) -> Response:
    return detail(500, "An internal error occurred. Please try again later.")


def build_app(ctx: SandboxContext, variant: str | OrchestrationsSettings | dict[str, Any] | None = None) -> Starlette:
    """A Synapse server: a preset name (`reference`, `scale`, `seed`), a settings object, or a dict of overrides."""
    state = OrchestrationsState(ctx, resolve_settings(variant))
    v1, v2 = V1Routes(state), V2Routes(state)
    base1, base2 = "/api/v1/orchestrations", "/api/v2/orchestrations"
    routes: list[BaseRoute] = [
        Route(base1, v1.list, methods=["GET"]),
        Route(f"{base1}/runs/{{run_id}}/resume", v1.resume, methods=["POST"]),
        Route(f"{base1}/runs/{{run_id}}/resume/stream", v1.resume_stream, methods=["POST"]),
        Route(f"{base1}/{{orch_id}}", v1.get, methods=["GET"]),
        Route(f"{base1}/{{orch_id}}/run", v1.run, methods=["POST"]),
        Route(f"{base1}/{{orch_id}}/run/stream", v1.run_stream, methods=["POST"]),
        Route(base2, v2.list, methods=["GET"]),
        Route(f"{base2}/runs/{{run_id}}/status", v2.status, methods=["GET"]),
        Route(f"{base2}/runs/{{run_id}}/stream", v2.stream, methods=["GET"]),
        Route(f"{base2}/runs/{{run_id}}/events", v2.events, methods=["GET"]),
        Route(f"{base2}/runs/{{run_id}}/resume", v2.resume, methods=["POST"]),
        Route(f"{base2}/runs/{{run_id}}/cancel", v2.cancel, methods=["POST"]),
        Route(f"{base2}/{{orch_id}}", v2.get, methods=["GET"]),
        Route(f"{base2}/{{orch_id}}/run", v2.run, methods=["POST"]),
        *admin_routes(ctx),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(ApiKeyGate, api_key=ctx.api_key)],
        exception_handlers={HTTPException: _http_error, Exception: _crash},
    )
    app.state.orchestrations = state
    # Outermost: counting and bursts see every request, even ones the key gate refuses.
    app.add_middleware(SandboxMiddleware, ctx=ctx, routes=routes, burst_response=burst_response)
    return app
