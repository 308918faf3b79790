"""`runbridge serve`: stdio by default; `--http` for streamable HTTP with sessions, Origin/Host checks, and a
bearer token whenever it listens beyond loopback."""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..core.config import Settings
from ..core.errors import ConfigError
from ..core.logs import register_secret

__all__ = ["BearerGate", "http_app", "is_loopback", "is_unspecified", "serve_http", "serve_stdio"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def is_unspecified(host: str) -> bool:
    """`0.0.0.0`, `::` and the like: every interface of the machine."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def http_app(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    token_env: str | None = None,
    allowed_hosts: list[str] | None = None,
    allowed_origins: list[str] | None = None,
    max_body_bytes: int = 1_048_576,
) -> ASGIApp:
    """The streamable-HTTP ASGI app: stateful sessions (2025-era clients get live elicitation)."""
    from mcp.server.transport_security import TransportSecuritySettings

    from ..server import build_server

    token = _token(token_env, host)
    security = None
    if is_unspecified(host) and not allowed_hosts:
        # A wildcard bind is reached by names and addresses it cannot know, so a Host allow-list would refuse every
        # remote client (421). The bearer token, always required here, is what keeps a rebinding page out.
        if allowed_origins:
            raise ConfigError(
                f"Checking Origin on {host} also checks Host: add --allow-host NAME:* for each name clients use."
            )
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    elif not is_loopback(host) or allowed_hosts or allowed_origins:
        shown = f"[{host}]" if ":" in host else host
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=allowed_hosts or [f"{shown}:*", "127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=allowed_origins or [],
        )
    mcp = build_server(settings, protect_env=[token_env] if token_env else [])
    app: ASGIApp = mcp.streamable_http_app(
        host=host, transport_security=security, max_request_body_size=max_body_bytes, stateless_http=False
    )
    return BearerGate(app, token) if token else app


def serve_http(settings: Settings, *, host: str, port: int, token_env: str | None, **kwargs: Any) -> None:
    import uvicorn

    app = http_app(settings, host=host, token_env=token_env, **kwargs)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)


def serve_stdio(settings: Settings) -> None:
    import anyio

    from ..server import build_server
    from ..server.stdio import run_stdio

    anyio.run(run_stdio, build_server(settings))
