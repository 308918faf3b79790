"""A LangGraph join sends an event twice when it was published while the join replayed what it kept (the server
subscribes to the live queue before replaying): runbridge delivers it once, and keeps each event of a millisecond
shared by several."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest

from runbridge.backends.langgraph.stream import ChainWatch

pytestmark = pytest.mark.anyio


def _frames(*events: tuple[str, str]) -> bytes:
    return "".join(f"id: {event_id}\nevent: custom\ndata: {data}\n\n" for event_id, data in events).encode()


class _Wire:
    """A run whose first join sends `body`, and whose later joins send nothing (the run has ended)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.joins: list[str] = []

    @asynccontextmanager
    async def stream(self, thread_id: str, run_id: str, start: str) -> AsyncIterator[httpx2.Response]:
        self.joins.append(start)
        body = self.body if len(self.joins) == 1 else b""
        request = httpx2.Request("GET", f"http://langgraph.test/threads/{thread_id}/runs/{run_id}/stream")
        yield httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body, request=request)

    async def run(self, thread_id: str, run_id: str) -> dict[str, Any]:
        return {"status": "success"}


async def test_an_event_a_join_sends_twice_is_delivered_once() -> None:
    wire = _Wire(
        _frames(
            ("1000-0", '{"tick": 1}'),
            ("1001-0", '{"tick": 2}'),
            ("1002-0", '{"tick": 3}'),
            ("1001-0", '{"tick": 2}'),  # live, from the queue: already replayed
            ("1002-0", '{"tick": 3}'),
            ("1002-0", '{"tick": 4}'),  # the same millisecond as tick 3: a new event
            ("1003-0", '{"tick": 5}'),
        )
    )
    watch = ChainWatch(wire, "run-1", "thread-1", poll=0.01)  # type: ignore[arg-type]
    got = [(position, raw.data) async for position, raw in watch.stream("run-1")]
    assert got == [(n, {"tick": n}) for n in range(1, 6)]
