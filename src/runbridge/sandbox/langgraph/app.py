"""The LangGraph Agent Server wire app of the sandbox (docs/backends/langgraph.md): assistants, threads, runs, and
resumable run streams, behind a key sent as `x-api-key` or as a bearer token."""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..admin import admin_routes
from ..context import SandboxContext
from ..faults import Burst
from ..middleware import ADMIN_PREFIX, SandboxMiddleware
from .graphs import GRAPHS
from .runtime import LangGraphState, assistant_id
from .state import LgThread, new_id, now

__all__ = ["build_app"]

_OPEN = ("/ok", "/info", ADMIN_PREFIX)


class KeyGuard:
    """A request needs the sandbox's key, as `x-api-key` or `Authorization: Bearer`; else a 401. The stats count
    which header each request's key came in (`key_as_x_api_key`, `key_as_bearer`)."""

    def __init__(self, app: ASGIApp, *, ctx: SandboxContext) -> None:
        self.app = app
        self.key = ctx.api_key
        self.stats = ctx.stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(_OPEN):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        sent = headers.get(b"x-api-key", b"").decode("latin-1")
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        self.stats.incr("key_as_x_api_key" if sent else "key_as_bearer")  # which header carried the key
        if not sent and scheme.lower() == "bearer":
            sent = token.strip()
        if not hmac.compare_digest(sent.encode(), self.key.encode()):
            await JSONResponse({"detail": "a valid key is needed"}, status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _assistant(graph: str) -> dict[str, Any]:
    return {
        "assistant_id": assistant_id(graph),
        "graph_id": graph,
        "name": graph,
        "description": None,
        "config": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
    }


class Routes:
    def __init__(self, state: LangGraphState) -> None:
        self.s = state

    def _thread(self, request: Request) -> LgThread:
        thread = self.s.threads.get(request.path_params["thread_id"])
        if thread is None:
            raise HTTPException(404, "Thread not found")
        return thread

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise HTTPException(422, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(422, "the body must be an object")
        return body

    async def ok(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def info(self, request: Request) -> Response:
        return JSONResponse({"version": "sandbox", "flags": {"assistants": True, "crons": False}})

    async def search_assistants(self, request: Request) -> Response:
        body = await self._body(request)
        names = [g for g in GRAPHS if body.get("graph_id") in (None, g)]
        offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 10)
        return JSONResponse([_assistant(g) for g in names[offset : offset + limit]])

    async def get_assistant(self, request: Request) -> Response:
        found = self.s.graph_of(request.path_params["assistant_id"])
        if found is None:
            raise HTTPException(404, "Assistant not found")
        return JSONResponse(_assistant(found[1].name))

    async def schemas(self, request: Request) -> Response:
        found = self.s.graph_of(request.path_params["assistant_id"])
        if found is None:
            raise HTTPException(404, "Assistant not found")
        return JSONResponse({"graph_id": found[1].name, "input_schema": found[1].input_schema, "state_schema": None})

    async def create_thread(self, request: Request) -> Response:
        body = await self._body(request)
        thread_id = str(body.get("thread_id") or new_id())
        if thread_id in self.s.threads:
            if body.get("if_exists") != "do_nothing":
                raise HTTPException(409, "Thread already exists")
        else:
            self.s.threads[thread_id] = LgThread(thread_id, metadata=dict(body.get("metadata") or {}))
        return JSONResponse(self.s.threads[thread_id].doc())

    async def search_threads(self, request: Request) -> Response:
        return JSONResponse([t.doc() for t in self.s.threads.values()])

    async def get_thread(self, request: Request) -> Response:
        return JSONResponse(self._thread(request).doc())

    async def patch_thread(self, request: Request) -> Response:
        thread = self._thread(request)
        thread.metadata.update((await self._body(request)).get("metadata") or {})
        thread.updated_at = now()
        return JSONResponse(thread.doc())

    async def state(self, request: Request) -> Response:
        return JSONResponse(self._thread(request).state())

    async def history(self, request: Request) -> Response:
        thread = self._thread(request)
        limit = int((await self._body(request)).get("limit") or 10)
        return JSONResponse([c.doc(thread.thread_id) for c in reversed(thread.checkpoints)][:limit])

    async def copy_thread(self, request: Request) -> Response:
        copied = self._thread(request).copied(new_id())
        self.s.threads[copied.thread_id] = copied
        return JSONResponse(copied.doc())

    async def create_run(self, request: Request) -> Response:
        thread = self._thread(request)
        body = await self._body(request)
        found = self.s.graph_of(str(body.get("assistant_id") or ""))
        if found is None:
            raise HTTPException(404, "Assistant not found")
        if body.get("checkpoint_id") and not any(c.checkpoint_id == body["checkpoint_id"] for c in thread.checkpoints):
            raise HTTPException(404, "Checkpoint not found")
        thread.metadata.setdefault("graph_id", found[1].name)
        thread.metadata.setdefault("assistant_id", found[0])
        run = self.s.create_run(thread, found[0], found[1], body)
        return JSONResponse(run.doc())

    async def list_runs(self, request: Request) -> Response:
        thread = self._thread(request)
        return JSONResponse([r.doc() for r in reversed(thread.runs)])

    def _run(self, request: Request) -> Any:
        thread = self._thread(request)
        run = next((r for r in thread.runs if r.run_id == request.path_params["run_id"]), None)
        if run is None:
            raise HTTPException(404, "Run not found")
        return thread, run

    async def get_run(self, request: Request) -> Response:
        return JSONResponse(self._run(request)[1].doc())

    async def cancel(self, request: Request) -> Response:
        _, run = self._run(request)
        if run.status in ("pending", "running"):
            run.cancelled = True
            self.s.ctx.stats.incr("cancels")
            if run.cancel is not None:
                run.cancel.cancel()
            if request.query_params.get("wait") == "true":
                while not run.log.closed:
                    await run.log.wait()
        return Response(status_code=202 if request.query_params.get("wait") != "true" else 204)

    async def stream(self, request: Request) -> Response:
        _, run = self._run(request)
        last = request.headers.get("last-event-id")
        self.s.ctx.stats.incr("stream_connections")
        closing = self.s.ctx.closing

        async def frames() -> AsyncIterator[str]:
            # No Last-Event-ID: what happens from now; with one, every kept event whose id is greater first.
            sent = len(run.log.events) if last is None else 0
            while True:
                while sent < len(run.log.events):
                    event_id, event, data = run.log.events[sent]
                    sent += 1
                    if last is not None and event_id <= last:
                        continue
                    yield f"event: {event}\ndata: {json.dumps(data, default=str)}\nid: {event_id}\n\n"
                if run.log.closed or closing.is_set():
                    return
                await run.log.wait()

        return StreamingResponse(frames(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


def _burst(burst: Burst) -> Response:
    headers = {"Retry-After": str(math.ceil(burst.retry_after))}
    return JSONResponse({"detail": "Too many requests"}, status_code=burst.status, headers=headers)


def build_app(ctx: SandboxContext, variant: Any = None) -> Starlette:
    """A LangGraph Agent Server serving the sandbox's graphs (`review`, `form`, `pair`, `ticker`)."""
    del variant
    state = LangGraphState(ctx)
    r = Routes(state)
    thread, run = "/threads/{thread_id}", "/threads/{thread_id}/runs/{run_id}"
    routes: list[BaseRoute] = [
        Route("/ok", r.ok, methods=["GET"]),
        Route("/info", r.info, methods=["GET"]),
        Route("/assistants/search", r.search_assistants, methods=["POST"]),
        Route("/assistants/{assistant_id}", r.get_assistant, methods=["GET"]),
        Route("/assistants/{assistant_id}/schemas", r.schemas, methods=["GET"]),
        Route("/threads", r.create_thread, methods=["POST"]),
        Route("/threads/search", r.search_threads, methods=["POST"]),
        Route(thread, r.get_thread, methods=["GET"]),
        Route(thread, r.patch_thread, methods=["PATCH"]),
        Route(f"{thread}/state", r.state, methods=["GET"]),
        Route(f"{thread}/history", r.history, methods=["POST"]),
        Route(f"{thread}/copy", r.copy_thread, methods=["POST"]),
        Route(f"{thread}/runs", r.create_run, methods=["POST"]),
        Route(f"{thread}/runs", r.list_runs, methods=["GET"]),
        Route(run, r.get_run, methods=["GET"]),
        Route(f"{run}/cancel", r.cancel, methods=["POST"]),
        Route(f"{run}/stream", r.stream, methods=["GET"]),
        *admin_routes(ctx),
    ]
    app = Starlette(
        routes=routes, middleware=[Middleware(KeyGuard, ctx=ctx)], exception_handlers={HTTPException: _http_error}
    )
    app.state.langgraph = state
    app.state.catalogue = list(GRAPHS)  # what `runbridge sandbox` lists
    app.add_middleware(SandboxMiddleware, ctx=ctx, routes=routes, burst_response=_burst)
    return app
