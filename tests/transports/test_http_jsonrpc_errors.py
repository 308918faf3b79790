"""Bodies that are not one JSON-RPC message, posted to runbridge's streamable-HTTP endpoint (a real loopback socket):
text that is not JSON gets -32700, a batch or JSON that is not a JSON-RPC message gets -32600, each with one short
sentence (never the validation dump the MCP SDK would send, with -32602) and the request's id when it has a usable
one, in both protocol eras; no session is opened for one, and the session it was sent in goes on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from tests.raw_jsonrpc import ACCEPT, INITIALIZE

from runbridge.cli.serve import http_app
from runbridge.core import Settings

pytestmark = pytest.mark.anyio

PARSE_ERROR, INVALID_REQUEST = -32700, -32600
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
MODERN = {**ACCEPT, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"}
# (body, the code it must get, the id the error must carry)
BROKEN: list[tuple[bytes, int, int | None]] = [
    (b"{not json", PARSE_ERROR, None),
    (b"\xff\xfe\x00", PARSE_ERROR, None),
    (b"", PARSE_ERROR, None),
    (json.dumps([LIST, {**LIST, "id": 3}]).encode(), INVALID_REQUEST, None),
    (b"[]", INVALID_REQUEST, None),
    (b"42", INVALID_REQUEST, None),
    (b'"tools/list"', INVALID_REQUEST, None),
    (b"{}", INVALID_REQUEST, None),
    (b'{"id": 11, "method": "tools/list"}', INVALID_REQUEST, 11),
    (b'{"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": "x"}', INVALID_REQUEST, 12),
    (b'{"jsonrpc": "1.0", "id": 13, "method": "ping"}', INVALID_REQUEST, 13),
    (b'{"jsonrpc": "2.0", "id": true, "method": "ping"}', INVALID_REQUEST, None),
]


def _message(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC message of a response, sent as JSON or as the last SSE `message` event."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return response.json()


def _assert_short_error(response: httpx2.Response, code: int, request_id: int | None, body: bytes) -> None:
    assert response.status_code == 400, (body, response.status_code, response.text[:300])
    reply = _message(response)
    assert reply["error"]["code"] == code, (body, reply)
    assert reply["id"] == request_id, (body, reply)
    text = reply["error"]["message"]
    assert 10 < len(text) <= 200, (body, text)
    for dump in ("validation error", "union[", "pydantic", "input_value", "Traceback"):
        assert dump not in text.lower(), (body, text)


async def test_bodies_that_are_not_one_json_rpc_message_get_short_standard_errors_in_a_session_and_without(
    settings: Settings, serve_http: Callable[[Any], str]
) -> None:
    url = serve_http(http_app(settings))
    with anyio.fail_after(30):
        async with httpx2.AsyncClient(timeout=10) as http:
            opened = await http.post(url, json=INITIALIZE, headers=ACCEPT)
            session = {
                **ACCEPT,
                "mcp-session-id": opened.headers["mcp-session-id"],
                "mcp-protocol-version": "2025-11-25",
            }
            initialized = b'{"jsonrpc": "2.0", "method": "notifications/initialized"}'
            assert (await http.post(url, content=initialized, headers=session)).status_code == 202
            for body, code, request_id in BROKEN:
                outside = await http.post(url, content=body, headers=ACCEPT)
                _assert_short_error(outside, code, request_id, body)
                assert "mcp-session-id" not in outside.headers, "a session was opened for a broken body"
                inside = await http.post(url, content=body, headers=session)
                _assert_short_error(inside, code, request_id, body)
                listed = _message(await http.post(url, json=LIST, headers=session))
                assert listed["id"] == 2
                assert listed["result"]["tools"], "the session did not go on"


async def test_on_the_2026_wire_a_batch_and_text_that_is_not_json_get_the_same_codes(
    settings: Settings, serve_http: Callable[[Any], str]
) -> None:
    url = serve_http(http_app(settings))
    call = {"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {"_meta": MODERN_META}}
    with anyio.fail_after(30):
        async with httpx2.AsyncClient(timeout=10) as http:
            batch = await http.post(url, content=json.dumps([call, {**call, "id": 6}]).encode(), headers=MODERN)
            not_json = await http.post(url, content=b"{not json", headers=MODERN)
            listed = await http.post(url, json=call, headers=MODERN)
    batch_reply, parse_reply = _message(batch), _message(not_json)
    assert batch_reply["error"]["code"] == INVALID_REQUEST, batch_reply
    assert parse_reply["error"]["code"] == PARSE_ERROR, parse_reply
    for reply in (batch_reply, parse_reply):
        assert len(reply["error"]["message"]) <= 200, reply
    assert _message(listed)["result"]["tools"]
