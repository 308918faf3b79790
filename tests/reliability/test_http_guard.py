"""The streamable-HTTP door of `runbridge serve --http` (the real command, in a subprocess) with a bearer token
required: requests without it, with a wrong one or another scheme are 401 on every method and open no session;
foreign Origin and Host headers are refused; bodies over the limit (declared or streamed) are 413; and through all
of that the official client with the right token completes a gated run in both eras."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from surface_harness import child_env, profile_for, runbridge_http, structured, write_config
from tests.mcp_people import Human

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY = "sk-http-guard-backend-41e9c0"
KEY_ENV = "RB_HTTP_GUARD_KEY"
TOKEN = "tok-http-guard-7c2d9e4f1a6b"
TOKEN_ENV = "RB_HTTP_GUARD_TOKEN"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
LIMIT = 1_048_576  # what `runbridge serve --http` accepts per request body


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", api_key=KEY, keepalive_seconds=0.2) as server:
        yield server


def _body(size: int) -> bytes:
    padded = {**INITIALIZE, "params": {**INITIALIZE["params"], "clientInfo": {"name": "x" * size, "version": "0"}}}
    return json.dumps(padded).encode()


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    """No Content-Length: the limit must count what arrives."""
    for start in range(0, len(body), 65_536):
        yield body[start : start + 65_536]


async def test_runbridge_serve_http_turns_away_what_it_must_and_still_serves_the_client(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    profiles = {"sandbox": profile_for("openwop", sandbox, "sandbox", KEY_ENV)}
    config = write_config(tmp_path / "runbridge.toml", profiles, state_path=":memory:", wait_seconds=10)
    env = child_env(**{KEY_ENV: KEY, TOKEN_ENV: TOKEN})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with anyio.fail_after(60):
        async with runbridge_http(config, env=env, args=("--token-env", TOKEN_ENV)) as served:
            url = served.url
            port = url.split(":")[2].split("/")[0]
            async with httpx2.AsyncClient(timeout=20) as http:
                unauthorized = [
                    await http.post(url, json=INITIALIZE, headers=ACCEPT),
                    await http.post(url, json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Bearer {TOKEN}x"}),
                    await http.post(url, json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Bearer {TOKEN[:-1]}"}),
                    await http.post(url, json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Basic {TOKEN}"}),
                    await http.post(url, json=INITIALIZE, headers={**ACCEPT, "Authorization": TOKEN}),
                    await http.get(url, headers={"Accept": "text/event-stream"}),
                    await http.delete(url, headers={"mcp-session-id": "0" * 32}),
                ]
                foreign_origin = await http.post(
                    url, json=INITIALIZE, headers={**ACCEPT, **auth, "Origin": "http://evil.example"}
                )
                foreign_host = await http.post(
                    url, json=INITIALIZE, headers={**ACCEPT, **auth, "Host": f"evil.example:{port}"}
                )
                declared = await http.post(url, content=_body(2 * LIMIT), headers={**ACCEPT, **auth})
                streamed = await http.post(url, content=_chunks(_body(2 * LIMIT)), headers={**ACCEPT, **auth})
                just_under = await http.post(url, content=_body(LIMIT - 4_096), headers={**ACCEPT, **auth})
            reports = []
            for mode in ("legacy", "auto"):
                async with (
                    httpx2.AsyncClient(headers=auth, timeout=30) as authed,
                    Client(
                        streamable_http_client(url, http_client=authed),
                        mode=mode,
                        elicitation_callback=Human(("accept", {"decision": "accept"})),
                    ) as client,
                ):
                    reports.append(structured(await client.call_tool("runs_start", {"target_id": "approval-demo"})))
            log = served.log()
    assert [r.status_code for r in unauthorized] == [401] * len(unauthorized)
    for refused in unauthorized:
        assert "mcp-session-id" not in refused.headers, "a refused request opened a session"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in refused.text
    assert foreign_origin.status_code == 403
    assert foreign_host.status_code == 421
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert just_under.status_code == 200, "a body just under the limit must be served"
    assert [r["status"] for r in reports] == ["completed", "completed"]
    assert "Traceback" not in log
    assert TOKEN not in log
    assert KEY not in log
