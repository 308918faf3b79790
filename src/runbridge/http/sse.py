"""One Server-Sent Events reader for every backend.

Line parsing is httpx2's `EventSource` (spec line endings `\\n`, `\\r\\n`, `\\r`; multi-line `data`; comments and
keep-alives; `id` and `retry`; a maximum event size). On top of it, `follow` keeps a run's events flowing across
dropped connections: it reconnects with `Last-Event-ID`, backs off, and drops what it already delivered (by
sequence, or by position for servers that replay from the start), so the consumer sees every event exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, TypeVar, cast

import anyio
import httpx2

from ..core import budget
from ..core.errors import RunbridgeError, StreamError, TransportError, UnreachableError
from .retry import RetryPolicy

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEMessage", "follow", "iter_messages"]

log = logging.getLogger("runbridge.sse")

DEFAULT_MAX_EVENT_BYTES = 1_048_576

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One dispatched event: `event` defaults to "message"; `id` is the last event id seen on the stream, and
    `retry` the last reconnection time (ms) the stream set, even in a frame of its own."""

    event: str
    data: str
    id: str
    retry: int | None = None


async def iter_messages(
    response: httpx2.Response, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> AsyncIterator[SSEMessage]:
    """The events of one open `text/event-stream` response.

    Events with no data are not dispatched (per the spec). An event larger than `max_event_bytes`, or a response
    that is not an event stream, raises `StreamError`.
    """
    source = httpx2.EventSource(cast(httpx2.Response, _EndOfStreamSafe(response)), max_event_size=max_event_bytes)
    retry: int | None = None
    try:
        async for sse in source:
            if sse.retry is not None:
                retry = sse.retry  # `retry:` sets the stream's reconnection time; it often comes in a frame alone
            if not sse.data:
                continue
            yield SSEMessage(event=sse.event, data=sse.data, id=sse.id, retry=retry)
    except httpx2.SSEError as exc:
        raise StreamError(f"The backend's event stream is unusable: {exc}") from None


class _EndOfStreamSafe:
    """The response as `EventSource` reads it, with a trailing `\r` at end of stream completed to `\r\n`.

    httpx2's line decoder turns a final `\r` into an extra blank line when it flushes, so a stream cut off right
    after a CR-terminated line dispatched the unfinished event (with `\n` endings it is rightly dropped). Adding
    `\n` after a final `\r` cannot change the lines: `\r\n` is one line ending.
    """

    def __init__(self, response: httpx2.Response) -> None:
        self._response = response

    @property
    def headers(self) -> httpx2.Headers:
        return self._response.headers

    @property
    def request(self) -> httpx2.Request:
        return self._response.request

    async def aiter_text(self) -> AsyncIterator[str]:
        last = ""
        async for text in self._response.aiter_text():
            if text:
                last = text
            yield text
        if last.endswith("\r"):
            yield "\n"


Opener = Callable[[str | None], AbstractAsyncContextManager[httpx2.Response]]


@dataclass
class _Cursor:
    last_id: str | None
    last_seq: int | None
    delivered: int = 0


async def follow(
    open_stream: Opener,
    *,
    decode: Callable[[SSEMessage], Iterable[T]],
    is_end: Callable[[T], bool],
    seq_of: Callable[[T], int | None] = lambda _item: None,
    dedupe: Literal["sequence", "position"] = "sequence",
    last_event_id: str | None = None,
    last_seq: int | None = None,
    skip: int = 0,
    policy: RetryPolicy | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> AsyncGenerator[T]:
    """Every item of a logical stream exactly once, across reconnects, until an item for which `is_end` is true.

    `open_stream(last_event_id)` opens one connection. `decode` turns a message into items (none for a frame to
    ignore, several for a batch). With `dedupe="sequence"` items at or below the highest sequence already delivered
    are dropped; with `dedupe="position"` (servers that replay everything on each connection) the first `skip` +
    delivered items of each connection are dropped. A connection that ends or breaks before the end is reopened
    after a backoff; `policy.attempts` consecutive connections that deliver nothing new raise `StreamError`.

    A refused connection ends the stream at once (`UnreachableError`, after the client's own quick tries): a backend
    that is off fails a stream as fast as a plain request. Within a tool call, no reconnect is made that the call's
    time budget has no room for.
    """
    policy = policy or RetryPolicy(attempts=8, base_delay=0.05, max_delay=5.0)
    cursor = _Cursor(last_event_id, last_seq, skip)
    failures = 0
    server_retry: float | None = None
    while True:
        progressed = False
        reason = "the stream ended before the run did"
        try:
            async with open_stream(cursor.last_id) as response:
                position = 0
                async for message in iter_messages(response, max_event_bytes=max_event_bytes):
                    if message.retry is not None:
                        server_retry = message.retry / 1000
                    for item in decode(message):
                        position += 1
                        if dedupe == "position":
                            if position <= cursor.delivered:
                                continue
                            cursor.delivered = position
                        else:
                            seq = seq_of(item)
                            if seq is not None:
                                if cursor.last_seq is not None and seq <= cursor.last_seq:
                                    continue
                                cursor.last_seq = seq
                        progressed = True
                        yield item
                        if is_end(item):
                            return
                    if message.id:
                        cursor.last_id = message.id
        except (StreamError, UnreachableError):
            raise
        except TransportError as exc:  # reopening failed even after the client's own retries
            reason = str(exc)
        except RunbridgeError:
            raise
        except httpx2.TimeoutException:
            reason = "no data arrived within the stream read timeout"
        except httpx2.TransportError as exc:
            reason = f"the connection broke ({type(exc).__name__})"
        failures = 0 if progressed else failures + 1
        if failures >= policy.attempts:
            raise StreamError(f"The event stream kept failing ({reason}); gave up after {failures} reconnects.")
        delay = 0.0 if progressed else policy.delay(failures - 1, server_retry)
        left = budget.remaining()
        if left is not None and delay >= left:
            raise StreamError(f"The event stream kept failing ({reason}) and this call's time budget ran out.")
        log.info("event stream interrupted (%s); reconnecting in %.2fs", reason, delay)
        await anyio.sleep(delay)
