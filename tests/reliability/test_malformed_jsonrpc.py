"""Malformed JSON-RPC, by hand, over stdio (`runbridge serve` in a subprocess) and streamable HTTP, in both eras:
text that is not JSON, JSON that is not a request, an unknown method, wrong params, and (over stdio) an id that is
neither a string nor an integer. Each gets a JSON-RPC error (with the request's id when it has one), and the session
goes on: the next valid request reaches the sandbox and succeeds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from surface_harness import RUNBRIDGE, child_env, profile_for, serving, settings_for, write_config

from runbridge.cli.serve import http_app
from runbridge.core import Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY = "sk-malformed-rpc-6a0c52f3e9"
KEY_ENV = "RB_MALFORMED_KEY"
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
MODERN = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


def _broken(meta: dict[str, Any] | None) -> list[tuple[bytes, int, int | None]]:
    """(frame, the error code it must get, the id the error must carry)."""
    params: dict[str, Any] = {"_meta": meta} if meta else {}
    return [
        (b"{not json", PARSE_ERROR, None),
        (b"\xff\xfe\x00", PARSE_ERROR, None),
        (b"[1, 2]", INVALID_REQUEST, None),
        (b"42", INVALID_REQUEST, None),
        (b'{"id": 11, "method": "tools/list"}', INVALID_REQUEST, 11),
        (b'{"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": "x"}', INVALID_REQUEST, 12),
        (
            json.dumps({"jsonrpc": "2.0", "id": 13, "method": "no/such", "params": params}).encode(),
            METHOD_NOT_FOUND,
            13,
        ),
        (
            json.dumps(
                {"jsonrpc": "2.0", "id": 14, "method": "tools/call", "params": {**params, "arguments": {}}}
            ).encode(),
            INVALID_PARAMS,
            14,
        ),
        (
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 15,
                    "method": "tools/call",
                    "params": {**params, "name": "runs_get", "arguments": [1]},
                }
            ).encode(),
            INVALID_PARAMS,
            15,
        ),
    ]


# Over stdio, a request whose id is not a string or an integer would otherwise read as a notification.
UNUSABLE_IDS: list[tuple[bytes, int, int | None]] = [
    (b'{"jsonrpc": "2.0", "id": {"n": 16}, "method": "tools/list"}', INVALID_REQUEST, None),
    (b'{"jsonrpc": "2.0", "id": [17], "method": "tools/list"}', INVALID_REQUEST, None),
    (b'{"jsonrpc": "2.0", "id": null, "method": "tools/list"}', INVALID_REQUEST, None),
]


def _targets_call(request_id: int, meta: dict[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "targets_list", "arguments": {}}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", api_key=KEY, keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, KEY)
    return settings_for(profile_for("openwop", sandbox, "sandbox", KEY_ENV))


class Stdio:
    """A `runbridge serve` subprocess spoken to line by line."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self.stdout = BufferedByteReceiveStream(process.stdout)

    async def send(self, frame: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(frame + b"\n")

    async def reply(self) -> dict[str, Any]:
        """The next response (notifications the server sends in between are skipped)."""
        while True:
            message = json.loads(await self.stdout.receive_until(b"\n", 1_000_000))
            assert message["jsonrpc"] == "2.0", message
            if "id" in message:
                return message


def _assert_error(reply: dict[str, Any], code: int, request_id: int | None, frame: bytes) -> None:
    assert "error" in reply, f"{frame!r} got {reply}"
    assert reply["error"]["code"] == code, f"{frame!r} got {reply}"
    assert reply["id"] == request_id, f"{frame!r} got {reply}"
    assert reply["error"]["message"].strip()
    assert "Traceback" not in json.dumps(reply)


def _assert_targets(reply: dict[str, Any], request_id: int) -> None:
    assert reply["id"] == request_id, reply
    assert reply["result"]["isError"] is False, reply
    assert [t["id"] for t in reply["result"]["structuredContent"]["targets"]][:2] == ["approval-demo", "clarify-demo"]


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_over_stdio_every_malformed_frame_gets_a_json_rpc_error_and_the_session_goes_on(
    era: str, settings: Settings, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "runbridge.toml", settings.profiles, state_path=":memory:", wait_seconds=5)
    meta = MODERN if era == "modern" else None
    env = child_env(RUNBRIDGE_CONFIG=str(config), **{KEY_ENV: KEY})
    with anyio.fail_after(40):
        async with await anyio.open_process([*RUNBRIDGE, "serve"], env=env) as process:
            rpc = Stdio(process)
            await rpc.send(b"not even json")  # before the session opens: answered, and it does not decide the era
            _assert_error(await rpc.reply(), PARSE_ERROR, None, b"not even json")
            if era == "legacy":
                await rpc.send(json.dumps(INITIALIZE).encode())
                assert (await rpc.reply())["result"]["protocolVersion"] == "2025-11-25"
                await rpc.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')
            for number, (frame, code, request_id) in enumerate(_broken(meta) + UNUSABLE_IDS):
                await rpc.send(frame)
                _assert_error(await rpc.reply(), code, request_id, frame)
                await rpc.send(json.dumps(_targets_call(100 + number, meta)).encode())
                _assert_targets(await rpc.reply(), 100 + number)
            assert process.stdin is not None
            await process.stdin.aclose()
            with anyio.fail_after(5):
                code = await process.wait()
            assert process.stderr is not None
            stderr = b"".join([chunk async for chunk in process.stderr]).decode()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert KEY not in stderr


def _named(frame: bytes) -> dict[str, str]:
    """The headers repeating a frame's method and tool name, as the 2026 HTTP path wants them."""
    try:
        doc = json.loads(frame)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return {"mcp-method": "tools/call"}
    headers = {"mcp-method": str(doc.get("method", "tools/call"))}
    params = doc.get("params")
    if isinstance(params, dict) and "name" in params:
        headers["mcp-name"] = str(params["name"])
    return headers


ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _json_rpc_body(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC message of a response, sent as JSON or as one SSE `message` event."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return response.json()


async def test_over_streamable_http_malformed_bodies_get_json_rpc_errors_and_the_session_goes_on(
    settings: Settings,
) -> None:
    with serving(http_app(settings)) as url:
        async with httpx2.AsyncClient(timeout=20) as http:
            opened = await http.post(url, json=INITIALIZE, headers=ACCEPT)
            assert opened.status_code == 200
            session = {
                **ACCEPT,
                "mcp-session-id": opened.headers["mcp-session-id"],
                "mcp-protocol-version": "2025-11-25",
            }
            note = await http.post(
                url, content=b'{"jsonrpc": "2.0", "method": "notifications/initialized"}', headers=session
            )
            assert note.status_code == 202
            modern = {**ACCEPT, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call"}
            for headers, meta in ((session, None), (modern, MODERN)):
                for number, (frame, code, request_id) in enumerate(_broken(meta)):
                    with anyio.fail_after(10):
                        named = {**headers, **_named(frame)} if meta else headers
                        refused = await http.post(url, content=frame, headers=named)
                        assert refused.status_code < 500, (frame, refused.status_code, refused.text[:300])
                        reply = _json_rpc_body(refused)
                        assert "error" in reply, (frame, reply)
                        # A request the transport cannot read as one may be reported as either class of error.
                        allowed = (
                            {code} if code in (PARSE_ERROR, METHOD_NOT_FOUND) else {INVALID_REQUEST, INVALID_PARAMS}
                        )
                        assert reply["error"]["code"] in allowed, (frame, reply)
                        assert reply["id"] in (request_id, None), (frame, reply)
                        call = _targets_call(100 + number, meta)
                        ok = await http.post(url, json=call, headers={**headers, **_named(json.dumps(call).encode())})
                    _assert_targets(_json_rpc_body(ok), 100 + number)
