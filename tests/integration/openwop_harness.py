"""Helpers for driving the OpenWOP adapter against the sandbox: collect a run's events, start runs, close the port.

Everything here talks to real loopback sockets; `RecordingTransport` only watches (and, when asked, loses one
answer of) requests that really reach the sandbox.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, cast

import anyio
import httpx2

from runbridge.backends.openwop import OpenWopBackend
from runbridge.core.models import EventKind, Run, RunEvent, StartRequest
from runbridge.sandbox import SandboxServer

MakeSandbox = Callable[..., SandboxServer]
"""`make_sandbox(variant=..., ...)`: a started, reset sandbox server."""
Connect = Callable[..., OpenWopBackend]
"""`connect(sandbox_or_base_url, key=..., retry=..., transport=..., **profile fields)`: an adapter."""

SENTINEL_KEY = "SENTINEL-openwop-key-0000"
WRONG_KEY = "SENTINEL-openwop-wrong-key-9999"
DEADLINE = 15.0


@dataclass
class Watched:
    """What one watch delivered."""

    events: list[RunEvent] = field(default_factory=list[RunEvent])

    @property
    def seqs(self) -> list[int]:
        return [int(e.seq) for e in self.events if e.raw_type != "state.snapshot"]

    @property
    def types(self) -> list[str]:
        return [e.raw_type for e in self.events]

    @property
    def last(self) -> RunEvent:
        return self.events[-1]

    def of_kind(self, kind: EventKind) -> list[RunEvent]:
        return [e for e in self.events if e.kind is kind]


async def collect(
    backend: OpenWopBackend,
    run_id: str,
    *,
    cursor: str | None = None,
    on_event: Callable[[RunEvent], Awaitable[None]] | None = None,
    until: Callable[[RunEvent], bool] | None = None,
    deadline: float = DEADLINE,
) -> Watched:
    """The events of a watch until it ends (or until `until` is true of one); `on_event` sees each as it arrives."""
    watched = Watched()
    with anyio.fail_after(deadline):
        events = cast(AsyncGenerator[RunEvent], backend.watch(run_id, cursor=cursor))
        async with aclosing(events) as stream:
            async for event in stream:
                watched.events.append(event)
                if on_event is not None:
                    await on_event(event)
                if until is not None and until(event):
                    break
    return watched


async def logged_seqs(backend: OpenWopBackend, run_id: str) -> list[int]:
    """The sequences of the run's whole `updates` log, read from the poll endpoint (whichever key the host uses)."""
    with anyio.fail_after(DEADLINE):
        wire = await backend.wire()
        doc = await backend.http.json(
            "GET",
            f"{wire.prefix}/runs/{run_id}/events/poll",
            action="poll the run's events",
            params={"timeout": 0},
            headers=wire.headers,
        )
    assert doc.get("isComplete", doc.get("isTerminal")) is True
    return [int(e["sequence"] if "sequence" in e else e["seq"]) for e in doc["events"]]


def is_gate(event: RunEvent) -> bool:
    return event.kind is EventKind.GATE_OPENED


async def start(backend: OpenWopBackend, target: str, **inputs: Any) -> Run:
    with anyio.fail_after(DEADLINE):
        return await backend.start_run(StartRequest(target_id=target, inputs=inputs))


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def strictly_increasing(values: list[int]) -> bool:
    return all(a < b for a, b in pairwise(values))


class RecordingTransport(httpx2.AsyncHTTPTransport):
    """The real HTTP transport, recording each request; `lose_answers` POST /v1/runs answers are thrown away.

    Losing an answer happens after the sandbox has fully handled the request (the run exists), the way a connection
    that breaks on the way back looks to the client.
    """

    def __init__(self, *, lose_answers: int = 0) -> None:
        super().__init__()
        self.requests: list[httpx2.Request] = []
        self.lose_answers = lose_answers

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        response = await super().handle_async_request(request)
        if self.lose_answers and request.method == "POST" and request.url.path == "/v1/runs":
            self.lose_answers -= 1
            await response.aread()
            await response.aclose()
            raise httpx2.ReadError("the answer was lost on the way back", request=request)
        return response

    def headers_of(self, method: str, path: str) -> list[httpx2.Headers]:
        return [r.headers for r in self.requests if r.method == method and r.url.path == path]
