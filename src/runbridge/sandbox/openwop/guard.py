"""OpenWOP's request gate: 400 on unversioned paths, 401 without the right bearer key (docs/backends/openwop.md).

Discovery (`/.well-known/openwop`), `/v1/openapi.json`, the token surface `/v1/interrupts/{token}` and the
sandbox admin paths need no key.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from ..middleware import ADMIN_PREFIX
from .envelope import error

__all__ = ["OpenWopGuard"]

_OPEN = ("/v1/interrupts/", "/v1/openapi.json")


class OpenWopGuard:
    """Pure ASGI middleware in front of the OpenWOP routes."""

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self._expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        if path == "/.well-known/openwop" or path.startswith((ADMIN_PREFIX, *_OPEN)):
            await self.app(scope, receive, send)
            return
        if not path.startswith("/v1/"):
            response = error(400, "validation_error", "OpenWOP v1 paths start with /v1/ (discovery excepted).")
            await response(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"")
        if not hmac.compare_digest(given, self._expected):
            response = error(
                401,
                "unauthenticated",
                "A valid API key is required (Authorization: Bearer <key>).",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
