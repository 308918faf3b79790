"""JSON-RPC as a client without an SDK sends it over streamable HTTP: the headers every POST carries and a 2025
`initialize`, for the tests that speak the wire by hand. Shared by every test directory
(`from tests.raw_jsonrpc import ...`)."""

from __future__ import annotations

from typing import Any

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
