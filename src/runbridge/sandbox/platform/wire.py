"""The platform's answers on the wire: the `{data, warnings?, metadata}` success envelope, the `{error: {code,
message, is_retryable, suggested_wait_time?}, metadata}` error envelope, bare management answers, and the quota
headers every answer carries (added by `QuotaHeaders`, outermost but for the sandbox's own counters)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..middleware import ADMIN_PREFIX
from .state import PlatformState

__all__ = ["QuotaHeaders", "enveloped", "error", "json_body", "reply", "request_id", "workspace_of"]


def request_id() -> str:
    return f"req_{secrets.token_hex(6)}"


def enveloped(
    data: Any, *, metadata: dict[str, Any] | None = None, warnings: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {"data": data}
    if warnings:
        doc["warnings"] = warnings
    doc["metadata"] = {"request_id": request_id(), **(metadata or {})}
    return doc


def reply(state: PlatformState, doc: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A management answer: bare, as the CLI reads it, or enveloped in the `enveloped` variant."""
    body = enveloped(doc) if state.variant.envelope_everything else doc
    return JSONResponse(body, status_code=status, headers=headers)


def error(
    status: int,
    code: str,
    message: str,
    *,
    retryable: bool = False,
    wait: float | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message, "is_retryable": retryable}
    if wait is not None:
        body["suggested_wait_time"] = wait
    body.update(extra or {})
    return JSONResponse({"error": body, "metadata": {"request_id": request_id()}}, status_code=status, headers=headers)


async def json_body(request: Request) -> dict[str, Any] | Response:
    """A management request's JSON object (`{}` for an empty body), or the 400 that says what is wrong with it."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return error(400, "INVALID_INPUT", "The body is not JSON")
    return body if isinstance(body, dict) else error(400, "INVALID_INPUT", "The body must be a JSON object")


def workspace_of(state: PlatformState, request: Request) -> str | Response:
    """The path's `workspace_id`, or the 404 for a workspace the account does not have."""
    ws = request.path_params["workspace_id"]
    return ws if ws in state.workspace_ids() else error(404, "NOT_FOUND", f"Workspace {ws} not found")


class QuotaHeaders:
    """Pure ASGI middleware: `X-RateLimit-Limit/Remaining/Reset` on every answer (streams included), and the forced
    429s a test asked for (`POST /_sandbox/platform`)."""

    def __init__(self, app: ASGIApp, *, state: PlatformState) -> None:
        self.app = app
        self.s = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        self.s.requests += 1
        forced = self.s.take_forced(path)
        if forced is not None:
            message = (
                "Rate limit exceeded. Try again later."
                if forced.code == "RATE_LIMITED"
                else "The LLM provider is rate limiting the key sent with this call."
            )
            response = error(429, forced.code, message, retryable=forced.retryable, wait=forced.suggested_wait)
            response.headers.update(self.s.quota_headers())
            await response(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.s.quota_headers().items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
