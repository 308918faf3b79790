"""The session cap counts a request out when its client has the whole answer, not when the app returns."""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from runbridge.server.http_sessions import SessionLimit

pytestmark = pytest.mark.anyio

PATH = "/mcp"


class SlowToReturn:
    """A stand-in for the SDK's transport: it answers at once, then takes a while to return, as a busy server does
    after the last byte of a response. It records the DELETEs the limit hands it (sessions ended to make room)."""

    def __init__(self) -> None:
        self.ids = (f"s{n}" for n in itertools.count(1))
        self.deleted: list[str] = []
        self.returned = anyio.Event()
        self.hold = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "DELETE":
            self.deleted.append(dict(scope["headers"])[b"mcp-session-id"].decode())
            return
        headers = [(b"mcp-session-id", next(self.ids).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}", "more_body": False})
        await self.hold.wait()


def _opening_post() -> Scope:
    headers = [(b"content-type", b"application/json"), (b"mcp-protocol-version", b"2025-11-25")]
    return {"type": "http", "method": "POST", "path": PATH, "headers": headers, "query_string": b""}


async def _post(limit: SessionLimit) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        body = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}'
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await limit(_opening_post(), receive, send)
    return sent


async def test_a_session_whose_answer_was_sent_makes_room_while_the_app_is_still_returning() -> None:
    app = SlowToReturn()
    limit = SessionLimit(app, path=PATH, cap=1)
    statuses: list[Any] = []
    async with anyio.create_task_group() as tasks:

        async def first() -> None:
            statuses.append((await _post(limit))[0]["status"])

        tasks.start_soon(first)
        with anyio.fail_after(5):
            while not statuses and limit.open_sessions == 0:
                await anyio.sleep(0.01)
        # The first session's client has its whole answer; the app has not returned yet.
        tasks.start_soon(first)
        with anyio.fail_after(5):
            while len(app.deleted) < 1:
                await anyio.sleep(0.01)
        app.hold.set()
    assert app.deleted == ["s1"], "the idle first session made room for the newcomer"
    assert statuses == [200, 200]
