"""The family-neutral outer layer of every sandbox app: count and log requests by route, answer injected 429/503
bursts, slow down the requests a slow fault names, and keep the count of event streams open right now.

Paths under `/_sandbox/` (the admin endpoints) are neither counted nor faulted, so a test can always steer and read
the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import anyio
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import SandboxContext
from .faults import Burst

__all__ = ["ADMIN_PREFIX", "PathPrefix", "SandboxMiddleware"]

ADMIN_PREFIX = "/_sandbox"


def route_name(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """`"METHOD /path/{template}"` of the route a request hits, or its raw path when none matches."""
    method = str(scope.get("method", "GET"))
    fallback = str(scope["path"])
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL and isinstance(route, Route):
            return f"{method} {route.path}"
        if match is Match.PARTIAL and isinstance(route, Route):
            fallback = route.path
    return f"{method} {fallback}"


class SandboxMiddleware:
    """Pure ASGI middleware (no buffering, so event streams pass straight through)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        ctx: SandboxContext,
        routes: Sequence[BaseRoute],
        burst_response: Callable[[Burst], Response],
    ) -> None:
        self.app = app
        self.ctx = ctx
        self.routes = routes
        self.burst_response = burst_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        stats = self.ctx.stats
        arrived = time.monotonic()
        route = route_name(self.routes, scope)
        stats.request(route)
        delay = self.ctx.faults.take_slow(str(scope["method"]), path)
        burst = self.ctx.faults.take_burst(str(scope["method"]), path)
        if burst is not None:
            stats.response(burst.status, route=route, arrived=arrived)
            await self.burst_response(burst)(scope, receive, send)
            return
        streaming = False

        async def counting_send(message: Message) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                if delay > 0:  # the request was handled; only its answer is late (and may find the client gone)
                    await anyio.sleep(delay)
                stats.response(int(message["status"]), route=route, arrived=arrived)
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"text/event-stream"):
                    streaming = True
                    stats.incr("open_streams")
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if streaming:  # the response is over: finished, dropped, or the client went away
                stats.incr("open_streams", -1)


class PathPrefix:
    """Serve an app under a path prefix, the way a reverse proxy mounts a host at `https://gateway/openwop/...`.

    The prefix is stripped from `path` and added to `root_path`, so the app routes as usual and writes its links
    (`request.base_url`) with the prefix; anything outside the prefix is 404, as on such a gateway.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            await Response("Not Found", status_code=404, media_type="text/plain")(scope, receive, send)
            return
        inner = path[len(self.prefix) :] or "/"
        child = dict(
            scope, path=inner, raw_path=inner.encode(), root_path=str(scope.get("root_path", "")) + self.prefix
        )
        await self.app(child, receive, send)
