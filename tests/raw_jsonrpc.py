"""JSON-RPC as a client without an SDK sends it over streamable HTTP: the headers every POST carries and a 2025
`initialize`, for the tests that speak the wire by hand. Shared by every test directory
(`from tests.raw_jsonrpc import ...`)."""

from __future__ import annotations

import json
from typing import Any

import httpx2

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


def reply_of(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC reply in a response to a POST: a JSON body, or the last event of an event stream."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return response.json()


class RawSession:
    """A 2025-11-25 session by hand over streamable HTTP (the official MCP client does not create 2025-era tasks):
    `open` initializes it, `call` sends one numbered request and answers its JSON-RPC reply."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http, self.url = http, url
        self.headers: dict[str, str] = {}
        self._ids = iter(range(2, 1_000_000))

    async def open(self) -> dict[str, Any]:
        """Initialize the session; the `initialize` reply."""
        hello = await self.http.post(self.url, json=INITIALIZE, headers=ACCEPT)
        self.headers = ACCEPT | {
            "mcp-session-id": hello.headers["mcp-session-id"],
            "mcp-protocol-version": "2025-11-25",
        }
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await self.http.post(self.url, json=initialized, headers=self.headers)
        return reply_of(hello)

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        return reply_of(await self.http.post(self.url, json=body, headers=self.headers))
