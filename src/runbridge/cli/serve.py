"""`runbridge serve`: stdio by default; `--http` for streamable HTTP with sessions, Origin/Host checks, and a
bearer token whenever it listens beyond loopback.

Stopping (SIGTERM or SIGINT, on either transport; or stdin closed) is one graceful path: the tool calls in progress
are ended (each saves where it got to and answers that runbridge is stopping), the HTTP streams still open are
ended, every backend connection and the run registry are closed, and the process then ends by the signal it got
(as uvicorn does), within about a second, without a stack trace.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import anyio

from ..core.config import Settings
from ..core.errors import ConfigError
from ..core.logs import register_secret
from ..server.http_guard import OriginGuard, is_loopback, is_unspecified, rules_for

if TYPE_CHECKING:
    import uvicorn
    from mcp.server.mcpserver import MCPServer

    from ..server import Lifecycle

__all__ = ["BearerGate", "http_app", "is_loopback", "is_unspecified", "serve_http", "serve_stdio", "uvicorn_config"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

log = logging.getLogger(__name__)
_CLOSE_SECONDS = 1.2  # for the lifespan to close every backend and the registry once the calls have ended
_ANSWER_SECONDS = 0.2  # for the answers of the calls ended to reach their clients
# How long an idle keep-alive connection is kept open. A request that a client or a load balancer sends on a
# connection just as the server closes it for idleness is lost, unanswered (the client sees the connection reset,
# HAProxy closes the client's connection without an answer). So the other side must be the one that closes idle
# connections: this is above what HTTP clients (httpx: 5 s) and balancers (HAProxy's idle server connections;
# nginx upstream keepalive_timeout and cloud load balancers: 60 s) keep one idle.
KEEP_ALIVE_SECONDS = 75


class BearerGate:
    """Refuse every HTTP request without `Authorization: Bearer <token>` (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = b""
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    given = value
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error":"unauthorized","message":"A valid bearer token is required."}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="runbridge"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _token(token_env: str | None, host: str) -> str | None:
    if token_env:
        token = os.environ.get(token_env, "")
        if len(token) < 16:
            raise ConfigError(f"${token_env} must hold a bearer token of at least 16 characters.")
        register_secret(token)  # scrubbed from every log line, like the backends' keys
        return token
    if not is_loopback(host):
        raise ConfigError(
            f"Listening on {host} exposes runbridge beyond this machine: pass --token-env VAR naming an "
            "environment variable that holds a bearer token clients must send."
        )
    return None


_PATH = "/mcp"


def http_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    token_env: str | None = None,
    allowed_hosts: list[str] | None = None,
    allowed_origins: list[str] | None = None,
    max_body_bytes: int = 1_048_576,
    max_sessions: int | None = None,
    session_idle_seconds: float | None = None,
    lifecycle: Lifecycle | None = None,
) -> ASGIApp:
    """The streamable-HTTP ASGI app: stateful sessions (2025-era clients get live elicitation).

    From the outside in: the Host/Origin guard and CORS (before the bearer check, so that a browser's preflight,
    which carries no token, is answered, and a refusal reaches the page); the bearer token; the body limit and the
    JSON-RPC errors for bodies that are not one message; the session cap; then the MCP SDK's transport, whose own
    Host/Origin checks are off because the guard's replace them on every bind."""
    from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecuritySettings

    from ..server import build_server
    from ..server.http_bodies import JsonRpcBodies
    from ..server.http_sessions import SessionLimit

    if settings.auth and token_env:
        raise ConfigError(
            "[auth] in runbridge.toml and --token-env are two ways to let clients in: keep one (with [auth], each "
            "user's own token from the identity provider)."
        )
    token = None if settings.auth else _token(token_env, host)
    try:
        rules = rules_for(host, allowed_hosts or [], allowed_origins or [])
    except ValueError as exc:
        raise ConfigError(f"{exc}.") from None
    cap = settings.http_max_sessions if max_sessions is None else max_sessions
    idle = settings.http_session_idle_seconds if session_idle_seconds is None else session_idle_seconds
    if cap < 1 or not 0 < idle <= 86_400:
        raise ConfigError("--max-sessions must be at least 1 and --session-idle-seconds between 0 and 86400.")
    mcp = build_server(settings, protect_env=[token_env] if token_env else [], lifecycle=lifecycle, auth=settings.auth)
    sdk: ASGIApp = mcp.streamable_http_app(
        streamable_http_path=_PATH,
        host=host,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        max_request_body_size=max_body_bytes,
        stateless_http=False,
        session_idle_timeout=idle,
        max_sessions=cap,  # never reached: SessionLimit makes room first; a backstop should it ever miscount
    )
    app: ASGIApp = SessionLimit(sdk, path=_PATH, cap=cap)
    app = RequestBodyLimitMiddleware(JsonRpcBodies(app, path=_PATH), max_body_bytes)
    if token:
        app = BearerGate(app, token)
    return OriginGuard(app, rules)


class OpenRequests:
    """Ends the HTTP requests still open when the server stops, cleanly: a held-open stream (the GET stream of a
    session, a call's answer stream) gets its last chunk, and a request not yet answered gets a 503. Without it
    uvicorn waits for them, then cancels them, and the cancellation surfaces as a stack trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._open: dict[anyio.CancelScope, str] = {}  # each open request's scope, and its method
        self._ended: anyio.Event | None = None
        self._stopping = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._stopping:
            await _unavailable(send)
            return
        sent = {"started": False, "complete": False}

        async def tracking(message: Any) -> None:
            if message["type"] == "http.response.start":
                sent["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                sent["complete"] = True
            await send(message)

        with anyio.CancelScope() as stop:
            self._open[stop] = str(scope.get("method", ""))
            try:
                await self.app(scope, receive, tracking)
            finally:
                del self._open[stop]
                if self._ended is not None:
                    self._ended.set()
        if stop.cancelled_caught and not sent["complete"]:
            with suppress(OSError, RuntimeError):  # the client may be gone already
                if sent["started"]:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                else:
                    await _unavailable(send)

    async def stop(self, grace: float) -> None:
        """Answer later requests 503; give the requests carrying an answer (POST) up to `grace` seconds to finish
        sending it, then end every request still open (the GET streams only ever wait for more)."""
        self._stopping = True
        with anyio.move_on_after(grace):
            while any(method != "GET" for method in self._open.values()):
                self._ended = anyio.Event()
                await self._ended.wait()
        for scope in list(self._open):
            scope.cancel()


async def _unavailable(send: Any) -> None:
    body = b'{"error":"unavailable","message":"runbridge is stopping."}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_http(settings: Settings, *, host: str, port: int, token_env: str | None, **kwargs: Any) -> None:
    import uvicorn

    from ..server import Lifecycle

    lifecycle = Lifecycle()
    requests = OpenRequests(http_app(settings, host=host, token_env=token_env, lifecycle=lifecycle, **kwargs))

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            # The calls first, while their streams can still carry the answer; then whatever is still open.
            log.info("runbridge is stopping")
            await lifecycle.stop_calls()
            await requests.stop(_ANSWER_SECONDS)
            await super().shutdown(sockets)

    _check_free(host, port)
    config = uvicorn_config(requests, host=host, port=port)
    shown = f"[{host}]" if ":" in host else host
    print(f"runbridge: serving MCP over streamable HTTP at http://{shown}:{port}/mcp", file=sys.stderr, flush=True)
    Server(config).run()


def uvicorn_config(app: ASGIApp, *, host: str, port: int) -> uvicorn.Config:
    """How uvicorn serves `app`: h11 with its keep-alive timer let go with the connection (`ClosingH11Protocol`)."""
    import uvicorn

    from .http_protocol import ClosingH11Protocol

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=ClosingH11Protocol,
        log_level="warning",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def _check_free(host: str, port: int) -> None:
    """A port another process holds is a one-line configuration error, before uvicorn reports it its own way."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}; check --host.") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as exc:
            why = exc.strerror or exc.__class__.__name__
            raise ConfigError(f"Cannot listen on {host}:{port} ({why}); pick another --port or --host.") from None


def serve_stdio(settings: Settings) -> None:
    from ..server import Lifecycle, build_server

    lifecycle = Lifecycle()
    anyio.run(_serve_stdio, build_server(settings, lifecycle=lifecycle), lifecycle)


async def _serve_stdio(mcp: MCPServer[Any], lifecycle: Lifecycle) -> None:
    """Serve until stdin closes (the graceful path) or SIGTERM/SIGINT arrives, which takes the same path."""
    from ..server.stdio import run_stdio

    if sys.platform == "win32":  # no signal handlers in the event loop there: closing stdin is the way to stop
        await run_stdio(mcp)
        return
    serving = anyio.CancelScope()
    async with anyio.create_task_group() as tasks:

        async def serve() -> None:
            with serving:
                await run_stdio(mcp)
            tasks.cancel_scope.cancel()  # stdin closed, or stopped below: nothing left to wait for

        tasks.start_soon(serve)
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                tasks.start_soon(_stop_stdio, serving, lifecycle, signum)
                break
            async for signum in signals:  # a second signal while stopping: stop now
                _end_by(signum)


async def _stop_stdio(serving: anyio.CancelScope, lifecycle: Lifecycle, signum: int) -> None:
    log.info("runbridge is stopping")
    await lifecycle.stop_calls()
    await anyio.sleep(_ANSWER_SECONDS / 4)  # for the calls' answers to reach stdout
    serving.cancel()  # the session ends; its lifespan closes every backend and the run registry
    await lifecycle.wait_closed(_CLOSE_SECONDS)
    # Where stdin is a terminal or a file, the transport reads it in a thread blocked on a read that nothing can
    # interrupt, so the process does not wait for it: it ends by the signal it got, now that everything is saved and
    # closed (as `serve --http` does).
    _end_by(signum)


def _end_by(signum: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
