"""Serving stdio: the SDK's transport, plus an answer to every line that is not a JSON-RPC message.

The SDK's stdio reader turns such a line into an exception that the session drops in silence, so a client that
sent a broken request waits for an answer that never comes. JSON-RPC 2.0 (§5.1) says what to answer instead: -32700
for text that is not JSON, -32600 for JSON that is not a request; with the request's id when one can be read, else
null. The session goes on either way.
"""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import Any, Self

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

__all__ = ["error_for_frame", "run_stdio"]


def _readable_id(exc: Exception) -> str | int | None:
    """The id of a broken request, when the frame was a JSON object with a method and a usable id."""
    if not isinstance(exc, ValidationError):
        return None
    for error in exc.errors(include_url=False):
        frame = error.get("input")
        if isinstance(frame, dict) and "method" in frame:
            value = frame.get("id")  # type: ignore[union-attr]
            if isinstance(value, str | int) and not isinstance(value, bool):
                return value
    return None


def error_for_frame(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error answering a frame the transport could not read as a message."""
    unparsable = isinstance(exc, ValidationError) and any(e["type"] == "json_invalid" for e in exc.errors())
    if unparsable:
        error = ErrorData(code=PARSE_ERROR, message="Parse error: the line is not valid JSON")
    else:
        error = ErrorData(
            code=INVALID_REQUEST,
            message="Invalid Request: expected a JSON-RPC 2.0 request object "
            '({"jsonrpc": "2.0", "id": ..., "method": ..., "params": {...}})',
        )
    return JSONRPCError(jsonrpc="2.0", id=None if unparsable else _readable_id(exc), error=error)


class _Answering:
    """The transport's read stream, minus unreadable frames: each is answered on the write stream instead."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], reply: WriteStream[SessionMessage]) -> None:
        self._inner = inner
        self._reply = reply

    @property
    def last_context(self) -> contextvars.Context | None:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            await self._reply.send(SessionMessage(error_for_frame(item)))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


async def run_stdio(mcp: MCPServer[Any]) -> None:
    """What `mcp.run("stdio")` does, with broken lines answered."""
    lowlevel = mcp._lowlevel_server
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel.run(
            _Answering(read_stream, write_stream), write_stream, lowlevel.create_initialization_options()
        )
