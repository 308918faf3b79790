"""The OpenWOP v1 wire app: routes, error handling and the middleware stack, over a sandbox's shared context.

Stack, outermost first: Starlette's crash handler (a 500 in the closed envelope), `VersionRouter` (v2 bare paths
onto the v1 routes, or the refusal of a host without that version), `SandboxMiddleware` (counts
requests, answers injected 429/503 bursts), `OpenWopGuard` (400 on unversioned paths, 401 without the key),
Starlette's HTTP error handling (404/405 in the envelope), the router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ..admin import admin_routes
from ..context import SandboxContext
from ..middleware import SandboxMiddleware
from .envelope import burst_response, error
from .guard import OpenWopGuard
from .interrupts import InterruptRoutes
from .runs import RunRoutes
from .state import OpenWopState
from .stream import StreamRoutes
from .variants import HostVariant, resolve_variant
from .versions import VersionRouter

__all__ = ["build_app"]

Endpoint = Callable[[Request], Awaitable[Response]]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _crash(request: Request, exc: Exception) -> Response:
    return error(500, "internal_error", "The sandbox failed to handle the request.")


_REFUSALS = {
    "404": (404, "not_found", "Not Found"),
    "405": (405, "method_not_allowed", "Method Not Allowed"),
    "406": (406, "not_acceptable", "This endpoint does not serve text/event-stream here."),
}
_NOT_A_STREAM = "<html><body><h1>Gateway</h1><p>Streaming responses are not supported.</p></body></html>"


def _streamed(state: OpenWopState, events: Endpoint) -> Endpoint:
    """The events endpoint as the variant serves it: the stream, or the refusal of a host or proxy without SSE."""

    async def handler(request: Request) -> Response:
        refusal = state.variant.events_stream
        if refusal == "html":
            return HTMLResponse(_NOT_A_STREAM)
        if refusal in _REFUSALS:
            status, code, message = _REFUSALS[refusal]
            return error(status, code, message)
        return await events(request)

    return handler


def _polled(state: OpenWopState, poll: Endpoint) -> Endpoint:
    """The poll endpoint, or the 404 of a host that has none."""

    async def handler(request: Request) -> Response:
        if not state.variant.event_poll:
            return error(404, "not_found", "Not Found")
        return await poll(request)

    return handler


def build_app(ctx: SandboxContext, variant: str | HostVariant | dict[str, Any] | None = None) -> Starlette:
    """An OpenWOP host of the given variant (a preset name, a `HostVariant`, or a dict of overrides)."""
    state = OpenWopState(ctx, resolve_variant(variant))
    runs, stream, interrupts = RunRoutes(state), StreamRoutes(state), InterruptRoutes(state)
    routes: list[BaseRoute] = [
        Route("/.well-known/openwop", runs.discovery, methods=["GET"]),
        Route("/v1/openapi.json", runs.openapi, methods=["GET"]),
        Route("/v1/workflows/{workflow_id}", runs.workflow, methods=["GET"]),
        Route("/v1/runs", runs.create, methods=["POST"]),
        Route("/v1/runs/{run_id}:fork", runs.fork, methods=["POST"]),
        Route("/v1/runs/{run_id}:pause", runs.pause, methods=["POST"]),
        Route("/v1/runs/{run_id}:resume", runs.resume, methods=["POST"]),
        Route("/v1/runs/{run_id}", runs.get, methods=["GET"]),
        Route("/v1/runs/{run_id}/cancel", runs.cancel, methods=["POST"]),
        Route("/v1/runs/{run_id}/events", _streamed(state, stream.events), methods=["GET"]),
        Route("/v1/runs/{run_id}/events/poll", _polled(state, stream.poll), methods=["GET"]),
        Route("/v1/runs/{run_id}/interrupts/{node_id}", interrupts.resolve, methods=["POST"]),
        Route("/v1/interrupts/{token}", interrupts.inspect_token, methods=["GET"]),
        Route("/v1/interrupts/{token}", interrupts.resolve_token, methods=["POST"]),
        *admin_routes(ctx),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(OpenWopGuard, api_key=ctx.api_key)],
        exception_handlers={HTTPException: _http_error, Exception: _crash},
    )
    app.state.openwop = state
    # Outermost: counting and bursts see every request, even ones the guard refuses.
    app.add_middleware(SandboxMiddleware, ctx=ctx, routes=routes, burst_response=burst_response)
    # Outermost of all: a v2 request is counted and routed as its v1 twin (or refused, on a host without v2).
    app.add_middleware(VersionRouter, variant=state.variant)
    return app
