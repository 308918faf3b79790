"""The streamable-HTTP door of `runbridge serve --http` (the real command, in a subprocess) with a bearer token
required: requests without it, with a wrong one or another scheme are 401 on every method and open no session;
foreign Origin and Host headers are refused; bodies over the limit (declared or streamed) are 413; and through all
of that the official client with the right token completes a gated run in both eras.

Without a token, on loopback binds other than the three names the MCP SDK knows (any 127.x.y.z, any spelling of
::1), a DNS-rebinding page (its own name in Host and Origin) is refused before any tool runs."""

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
from surface_harness import child_env, profile_for, requests_seen, runbridge_http, structured, write_config
from tests.mcp_people import Human
from tests.raw_jsonrpc import ACCEPT, INITIALIZE

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY = "sk-http-guard-backend-41e9c0"
KEY_ENV = "RB_HTTP_GUARD_KEY"
TOKEN = "tok-http-guard-7c2d9e4f1a6b"
TOKEN_ENV = "RB_HTTP_GUARD_TOKEN"
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


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "page", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
# A 2026-era call needs no session: one request starts a run. What a rebinding page would send.
START: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {"name": "runs_start", "arguments": {"target_id": "quick-demo"}, "_meta": MODERN_META},
}
MODERN = {**ACCEPT, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "runs_start"}
# The bind, and another spelling of it a client may use in Host.
BINDS = [
    ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.2", "127.0.0.2"),
    ("::1", "[0:0:0:0:0:0:0:1]"),
    ("0:0:0:0:0:0:0:1", "[::1]"),
]


def _v6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _bind_param(bind: str, spelling: str) -> Any:
    if ":" in bind and not _v6_loopback():
        return pytest.param(bind, spelling, marks=pytest.mark.skip(reason="::1 cannot be bound on this machine"))
    return pytest.param(bind, spelling, id=bind)


def _runs(sandbox: SandboxServer) -> int:
    return requests_seen(sandbox)["POST /v1/runs"]


@pytest.mark.parametrize(("bind", "spelling"), [_bind_param(*b) for b in BINDS])
async def test_a_dns_rebinding_page_is_refused_on_every_loopback_bind_and_starts_no_run(
    bind: str, spelling: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    profiles = {"sandbox": profile_for("openwop", sandbox, "sandbox", KEY_ENV)}
    config = write_config(tmp_path / "runbridge.toml", profiles, state_path=":memory:", wait_seconds=10)
    with anyio.fail_after(60):
        async with runbridge_http(config, env=child_env(**{KEY_ENV: KEY}), host=bind) as served:
            port = served.url.rsplit(":", 1)[1].split("/")[0]
            rebinding = {"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"}
            before = _runs(sandbox)
            async with httpx2.AsyncClient(timeout=20) as http:
                attacks = [
                    await http.post(served.url, json=START, headers={**MODERN, **rebinding}),
                    await http.post(served.url, json=INITIALIZE, headers={**ACCEPT, **rebinding}),
                    await http.post(served.url, json=START, headers={**MODERN, "Host": f"Attacker.Example:{port}"}),
                    await http.post(served.url, json=START, headers={**MODERN, "Origin": rebinding["Origin"]}),
                    await http.post(served.url, json=START, headers={**MODERN, "Origin": "null"}),
                ]
                refused_runs = _runs(sandbox) - before
                # The same call from this machine, by any spelling of loopback, case aside: served.
                spelt = await http.post(
                    served.url,
                    json=START,
                    headers={**MODERN, "Host": f"{spelling}:{port}", "Origin": f"http://LocalHost:{port}"},
                )
                by_name = await http.post(served.url, json=INITIALIZE, headers={**ACCEPT, "Host": f"LOCALHOST:{port}"})
            async with Client(served.url, mode="legacy") as client:  # the official client, by the bound address
                report = structured(await client.call_tool("runs_start", {"target_id": "quick-demo"}))
            log = served.log()
    assert [r.status_code for r in attacks] == [421, 421, 421, 403, 403], [r.text[:200] for r in attacks]
    assert refused_runs == 0, "a refused request started a run"
    for refused in attacks:
        assert "mcp-session-id" not in refused.headers
        assert refused.json()["error"]["code"] == -32600
    assert spelt.status_code == 200, spelt.text[:300]
    assert by_name.status_code == 200, by_name.text[:300]
    assert report["status"] == "completed", report
    assert _runs(sandbox) - before == 2, "the served calls should each have started one run"
    assert "Traceback" not in log
