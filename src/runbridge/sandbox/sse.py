"""An event-stream response that can also break on purpose.

Starlette's `StreamingResponse` always ends a body cleanly. The sandbox needs three endings: clean (after a
terminal event), abrupt (a `DROP` item: the app returns without finishing the chunked body, so uvicorn closes the
socket and the client sees a truncated stream), and shutdown (the shared `closing` event ends it abruptly too, so
open streams never hold a server's shutdown). A client that goes away cancels the producer at once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping

import anyio
from anyio import CancelScope
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["DROP", "Drop", "EventStreamResponse"]


class Drop:
    """Yield `DROP` from a stream producer to cut the connection without a proper end."""


DROP = Drop()


class EventStreamResponse(Response):
    """`text/event-stream` response fed by an async generator of encoded chunks (or `DROP`)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        chunks: AsyncGenerator[bytes | Drop, None],
        *,
        closing: anyio.Event,
        headers: Mapping[str, str] | None = None,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        self.chunks = chunks
        self.closing = closing
        self.on_drop = on_drop
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        clean = False

        async def pump(cancel: CancelScope) -> None:
            nonlocal clean
            try:
                async for chunk in self.chunks:
                    if isinstance(chunk, Drop):
                        if self.on_drop is not None:
                            self.on_drop()
                        break
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                else:
                    clean = True
            except OSError:
                pass  # the client went away mid-write
            cancel.cancel()

        async def watch_disconnect(cancel: CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            cancel.cancel()

        async def watch_closing(cancel: CancelScope) -> None:
            await self.closing.wait()
            cancel.cancel()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump, tg.cancel_scope)
                tg.start_soon(watch_disconnect, tg.cancel_scope)
                tg.start_soon(watch_closing, tg.cancel_scope)
        finally:
            with anyio.CancelScope(shield=True):
                await self.chunks.aclose()
        if clean:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        # Otherwise return without finishing the body: uvicorn closes the connection, which is the point.
