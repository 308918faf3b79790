"""JSON-RPC errors for request bodies that are not one JSON-RPC message, on the 2025-era (session) HTTP path.

The MCP SDK's 2025-era transport answers a batch or a body that is not a JSON-RPC envelope with -32602 (invalid
params) and the whole pydantic validation dump as its message. JSON-RPC says -32700 for text that is not JSON and
-32600 for JSON that is not a request; this answers those with a short message before the SDK sees the body (and
before a session is opened for it). The 2026-era path already answers them this way and is left alone.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from mcp_types import INVALID_REQUEST, PARSE_ERROR
from mcp_types.jsonrpc import jsonrpc_message_adapter
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_sessions import session_era

__all__ = ["JsonRpcBodies"]

_NOT_JSON = "Parse error: the body is not JSON."
_BATCH = "Invalid Request: batches are not supported; send one JSON-RPC message per request."
_NOT_MESSAGE = (
    'Invalid Request: the body must be one JSON-RPC 2.0 message: an object with "jsonrpc": "2.0", a "method" '
    '(with "params" an object, if any) or a "result" or "error".'
)
_BAD_ID = "Invalid Request: a request id must be a string or an integer."


def problem(body: bytes) -> tuple[int, str, str | int | None] | None:
    """(code, message, the request's id if it has a usable one) for a body that is not one JSON-RPC message."""
    try:
        raw = pydantic_core.from_json(body)
    except ValueError:
        return PARSE_ERROR, _NOT_JSON, None
    if isinstance(raw, list):
        return INVALID_REQUEST, _BATCH, None
    if not isinstance(raw, dict):
        return INVALID_REQUEST, _NOT_MESSAGE, None
    found: Any = raw.get("id")  # type: ignore[union-attr]
    usable = isinstance(found, str | int) and not isinstance(found, bool)
    if "id" in raw and found is not None and not usable:
        return INVALID_REQUEST, _BAD_ID, None  # pydantic would read `true` as 1, and 2.0 as 2
    try:
        jsonrpc_message_adapter.validate_python(raw, by_name=False)
    except ValidationError:
        return INVALID_REQUEST, _NOT_MESSAGE, found if usable else None
    return None


def _declares_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/json"
    return False


class JsonRpcBodies:
    """Reads a 2025-era POST body (already capped by the body limit around it) and answers one that is not a
    JSON-RPC message; any other goes on, replayed unchanged."""

    def __init__(self, app: ASGIApp, *, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path):
            await self.app(scope, receive, send)
            return
        if not session_era(scope) or not _declares_json(scope):  # the SDK answers a wrong Content-Type itself
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        last: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                last = message  # the client went away: let the app see it
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        found = problem(body) if last is None else None
        if found is not None:
            code, text, request_id = found
            payload = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}}
            encoded = json.dumps(payload).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(encoded)).encode())]
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": encoded})
            return
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
        if last is not None:
            replay.append(last)

        async def replayed() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replayed, send)
