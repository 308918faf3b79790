"""Serving stdio: newline-delimited JSON-RPC on stdin and stdout, with an answer to every line that is not a
JSON-RPC message.

The SDK's stdio transport reads each line, and writes and flushes each message, through a worker thread: three
thread hops per request and answer. Here, when stdin and stdout are pipes or sockets (how MCP hosts start a
server), they are read and written without blocking, straight from the event loop. Anything else (a terminal, a
file, Windows) is read and written through a worker thread, one hop per chunk read and per message written. Either
way, the standard descriptors are claimed as the SDK's own transport claims them: the wire is served from
private duplicates, and while serving fd 0 reads the null device and fd 1 writes to stderr, so stray output from a
library or a child process cannot corrupt the wire, nor a child read a request.

The SDK's reader turns a broken line into an exception that the session drops in silence, so a client that sent
a broken request waits for an answer that never comes. JSON-RPC 2.0 (§5.1) says what to answer instead: -32700 for
text that is not JSON, -32600 for JSON that is not a request; with the request's id when one can be read, else
null. A frame whose id is not a string or an integer (an object, an array, null) would otherwise be read as a
notification and never answered: it gets -32600 with a null id. The session goes on either way, and ends when
stdin closes.

The transport is built on public types only (anyio memory streams carrying `SessionMessage`s, the JSON-RPC models
of `mcp_types`), so it does not depend on how the SDK's own transport is written.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager, suppress
from typing import IO, Any

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.os.win32.utilities import rebind_std_handle_to_fd
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, JSONRPCNotification
from mcp_types import jsonrpc_message_adapter as message_adapter
from pydantic import ValidationError

from .sdk_private import lowlevel_server

if sys.platform != "win32":  # pragma: no branch
    import fcntl

__all__ = ["error_for_frame", "frame_message", "run_stdio", "stdio_streams"]

_CHUNK = 1 << 16
_INVALID_REQUEST = (
    "Invalid Request: expected a JSON-RPC 2.0 request object "
    '({"jsonrpc": "2.0", "id": ..., "method": ..., "params": {...}})'
)
_UNUSABLE_ID = "Invalid Request: the id must be a string or an integer"


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
        error = ErrorData(code=INVALID_REQUEST, message=_INVALID_REQUEST)
    return JSONRPCError(jsonrpc="2.0", id=None if unparsable else _readable_id(exc), error=error)


def frame_message(line: str | bytes) -> SessionMessage | JSONRPCError:
    """One line read from the client: the message it carries, or the error that answers it."""
    try:
        message = message_adapter.validate_json(line, by_name=False)
    except ValidationError as exc:
        return error_for_frame(exc)
    if isinstance(message, JSONRPCNotification) and _has_id(line):
        # A request whose id is neither a string nor an integer reads as a notification: answer it instead.
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message=_UNUSABLE_ID))
    return SessionMessage(message)


def _has_id(line: str | bytes) -> bool:
    try:
        frame = json.loads(line)
    except ValueError:  # pragma: no cover  (it was valid JSON a moment ago)
        return False
    return isinstance(frame, dict) and "id" in frame


# -- reading and writing the standard descriptors ----------------------------------------------------------------


def _is_pipe(fd: int) -> bool:
    """A pipe or a socket, which the event loop can wait on (POSIX only; a terminal or a file cannot be)."""
    if sys.platform == "win32":  # pragma: no cover
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _same_file(fd: int, other: int) -> bool:
    try:
        a, b = os.fstat(fd), os.fstat(other)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class _Channel:
    """One standard stream: read or written without blocking when it is a pipe, else through a worker thread."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        try:
            self._fd: int | None = file.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
        self._was_blocking: bool | None = None
        if self._fd is not None and _is_pipe(self._fd) and not _same_file(self._fd, 2):
            # Non-blocking mode belongs to the open pipe, not to the descriptor: never to one stderr writes to.
            self._was_blocking = os.get_blocking(self._fd)
            os.set_blocking(self._fd, False)

    @property
    def direct(self) -> bool:
        return self._was_blocking is not None

    def restore(self) -> None:
        if self._fd is not None and self._was_blocking is not None:
            with suppress(OSError):  # already gone
                os.set_blocking(self._fd, self._was_blocking)

    async def read(self) -> bytes:
        """The next bytes available (b"" at the end of the stream)."""
        if self._fd is None or self._was_blocking is None:
            read = getattr(self._file, "read1", self._file.read)
            return await anyio.to_thread.run_sync(read, _CHUNK, abandon_on_cancel=True)
        while True:
            try:
                return os.read(self._fd, _CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(self._fd)

    async def write(self, data: bytes) -> None:
        if self._fd is None or self._was_blocking is None:
            await anyio.to_thread.run_sync(self._write_blocking, data)
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await anyio.wait_writable(self._fd)

    def _write_blocking(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()


def _claim(fd: int, stream: Any, mode: str, divert: Callable[[], int]) -> tuple[IO[bytes], Callable[[], None]]:
    """The wire end of standard descriptor `fd` (`stream` is its `sys` stream): a private duplicate, while `fd`
    itself points at `divert()` until `release`. Where the descriptors cannot be duplicated or moved (no real
    descriptor behind the stream), the stream's own buffer is served in place, unclaimed."""
    buffer: IO[bytes] = stream.buffer
    if not _backed_by(stream, fd):
        return buffer, _nothing
    try:
        private = _duplicate(fd)
    except OSError:
        return buffer, _nothing
    try:
        diversion = divert()
    except OSError:
        os.close(private)
        return buffer, _nothing
    try:
        _point(fd, diversion)
    except OSError:
        with suppress(OSError):  # a Windows dup2 may close its target before failing: give the wire back
            _point(fd, private)
        os.close(private)
        return buffer, _nothing
    finally:
        os.close(diversion)

    def release() -> None:
        with suppress(OSError):  # the wire is gone already: nothing to point back at
            _point(fd, private)

    # closefd=False: a worker thread may still block reading it after serving ends; it must never be recycled.
    return os.fdopen(private, mode, closefd=False), release


def _duplicate(fd: int) -> int:
    """A duplicate of `fd` outside the standard range, so that pointing fd 0-2 elsewhere never moves it."""
    if sys.platform == "win32":  # pragma: no cover
        duplicate = os.dup(fd)
        if duplicate <= 2:
            os.close(duplicate)
            raise OSError(f"the duplicate of fd {fd} is a standard descriptor")
        return duplicate
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _point(fd: int, at: int) -> None:
    os.dup2(at, fd)
    if sys.platform == "win32":  # pragma: no cover  (children inherit the Win32 handle, not the descriptor)
        rebind_std_handle_to_fd(fd)


def _backed_by(stream: Any, fd: int) -> bool:
    try:
        return stream.buffer.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False


def _nothing() -> None:
    return None


def _null_device() -> int:
    return os.open(os.devnull, os.O_RDONLY)


def _stderr() -> int:
    try:
        return os.dup(2)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)


@asynccontextmanager
async def stdio_streams(
    stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None
) -> AsyncGenerator[
    tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]
]:
    """The session's streams over stdin and stdout (or the given binary files, which are not claimed). Broken
    lines are answered here and never reach the session; the read stream ends when the input does."""
    releases: list[Callable[[], None]] = []
    channels: list[_Channel] = []
    try:
        if stdin is None:
            stdin, release = _claim(0, sys.stdin, "rb", _null_device)
            releases.append(release)
        if stdout is None:
            stdout, release = _claim(1, sys.stdout, "wb", _stderr)
            releases.append(release)
        source, sink = _Channel(stdin), _Channel(stdout)
        channels += [source, sink]
        to_session, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, outgoing = anyio.create_memory_object_stream[SessionMessage](0)
        replies = write_stream.clone()
        reading = anyio.CancelScope()

        async def reader() -> None:
            with reading:
                async with to_session, replies:
                    pending = b""
                    while chunk := await source.read():
                        *lines, pending = (pending + chunk).split(b"\n")
                        for line in lines:
                            await _deliver(line, to_session, replies)
                    if pending.strip():
                        await _deliver(pending, to_session, replies)

        async def writer() -> None:
            broken = False
            async with outgoing:
                async for message in outgoing:
                    if broken:
                        continue  # the client is gone; the session ends when stdin closes
                    text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    try:
                        await sink.write(text.encode() + b"\n")
                    except OSError:
                        broken = True

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(reader)
            tasks.start_soon(writer)
            try:
                yield read_stream, write_stream
            finally:
                reading.cancel()  # when the session ended before stdin did
                read_stream.close()
                await write_stream.aclose()  # the writer ends once every answer is written
    finally:
        for channel in reversed(channels):
            channel.restore()
        for release in reversed(releases):
            release()


async def _deliver(
    line: bytes,
    session: MemoryObjectSendStream[SessionMessage | Exception],
    replies: MemoryObjectSendStream[SessionMessage],
) -> None:
    found = frame_message(line.decode("utf-8", errors="replace"))
    if isinstance(found, JSONRPCError):
        await replies.send(SessionMessage(found))
    else:
        await session.send(found)


async def run_stdio(mcp: MCPServer[Any]) -> None:
    """What `mcp.run("stdio")` does, over runbridge's own transport: without a thread hop per line where stdin and
    stdout are pipes, and with broken lines answered."""
    lowlevel = lowlevel_server(mcp)
    async with stdio_streams() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
