"""Test helpers: an HTTP client for a sandbox, a raw SSE frame reader, run helpers.

The frame reader is deliberately our own (not the bridge's SSE reader): these tests pin down the exact bytes the
sandbox sends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

from runbridge.sandbox import SandboxServer


def client_for(sb: SandboxServer, *, headers: dict[str, str] | None = None) -> httpx2.AsyncClient:
    """A client for the sandbox's first family, with its key (and any extra headers)."""
    return httpx2.AsyncClient(base_url=sb.base_url, headers={**sb.headers, **(headers or {})}, timeout=5.0)


@dataclass
class Frame:
    """One SSE frame as sent, or a comment (`comment` set, the rest empty)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


async def frames(response: httpx2.Response) -> AsyncIterator[Frame]:
    """Frames and comments in arrival order, parsed by the line rules of the SSE spec."""
    current = Frame()
    seen_field = False
    async for line in response.aiter_lines():
        if line == "":
            if seen_field:
                yield current
            current, seen_field = Frame(), False
            continue
        if line.startswith(":"):
            yield Frame(comment=line[1:])
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        seen_field = True
        if name == "id":
            current.id = value
        elif name == "event":
            current.event = value
        elif name == "data":
            current.data = f"{current.data}\n{value}" if current.data else value


async def collect(response: httpx2.Response, *, stop: Callable[[Frame], bool] | None = None) -> list[Frame]:
    """Event frames (no comments) until the server closes the stream, or until `stop(frame)` is true."""
    out: list[Frame] = []
    async for frame in frames(response):
        if frame.comment is not None:
            continue
        out.append(frame)
        if stop is not None and stop(frame):
            break
    return out


async def post_stream(client: httpx2.AsyncClient, path: str, body: dict[str, Any]) -> list[Frame]:
    """POST `body` to a streaming route and read every frame (within 5 s), checked to be a 200 event stream."""
    with anyio.fail_after(5):
        async with client.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            return [f async for f in frames(response)]


async def start_run(client: httpx2.AsyncClient, workflow_id: str, **body: Any) -> str:
    response = await client.post("/v1/runs", json={"workflowId": workflow_id, **body})
    assert response.status_code == 201, response.text
    return str(response.json()["runId"])


async def wait_for_event(
    client: httpx2.AsyncClient, run_id: str, event_type: str, *, after: int | None = None, seq_field: str = "sequence"
) -> dict[str, Any]:
    """Long-poll the run's events after `after` (the server waits, we do not sleep) until one of `event_type`."""
    last = after
    with anyio.fail_after(5):
        while True:
            params: dict[str, Any] = {"timeout": 5}
            if last is not None:
                params["lastSequence"] = last
            response = await client.get(f"/v1/runs/{run_id}/events/poll", params=params)
            body = response.json()
            for event in body["events"]:
                last = event[seq_field]
                if event["type"] == event_type:
                    return event
            # `isComplete` (the spec) or `isTerminal` (the SQLite host's page, which has no `isComplete`)
            assert not body.get("isComplete", body.get("isTerminal")), f"the run ended without {event_type}"
