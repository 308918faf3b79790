"""runbridge over streamable HTTP on a real loopback socket: gated runs in both eras through the official client,
the bearer gate, Origin/Host checks, the body limit, and refusing to listen beyond loopback unprotected."""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from tests.mcp_people import Progress
from transport_harness import ERAS, RUNBRIDGE, Human, free_port, run_cli, structured, wait_for_port

from runbridge.cli.serve import http_app
from runbridge.core import ConfigError, Settings

pytestmark = pytest.mark.anyio

TOKEN_ENV = "RUNBRIDGE_TRANSPORT_HTTP_TOKEN"
TOKEN = "tok-rbx-0123456789abcdef"
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
WILDCARD = "0.0.0.0"  # noqa: S104 - apps are built for it and served on loopback; nothing binds it
ACCEPT = {"Accept": "application/json, text/event-stream"}

Serve = Callable[[Any], str]


async def _post_initialize(url: str, **headers: str) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(url, json=INITIALIZE, headers={**ACCEPT, **headers})


async def _gated_run(client: Client) -> tuple[dict[str, Any], Progress]:
    progress = Progress()
    result = await client.call_tool("runs_start", {"target_id": "approval-demo"}, progress_callback=progress)
    return structured(result), progress


@pytest.mark.parametrize("mode", ERAS)
async def test_a_gated_run_over_streamable_http_completes_with_the_elicitation_answered(
    mode: str, settings: Settings, serve_http: Serve
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    human = Human()
    with anyio.fail_after(30):
        async with Client(url, mode=mode, elicitation_callback=human) as client:
            assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            report, progress = await _gated_run(client)
    assert report["status"] == "completed", report
    assert report["decision"] == "accepted"
    assert len(human.questions) == 1
    assert progress.updates, "no progress arrived over HTTP"


async def test_without_the_bearer_token_or_with_a_wrong_one_every_request_gets_401(
    settings: Settings, serve_http: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = serve_http(http_app(settings, host="127.0.0.1", token_env=TOKEN_ENV))
    with anyio.fail_after(10):
        missing = await _post_initialize(url)
        wrong = await _post_initialize(url, Authorization=f"Bearer {TOKEN}x")
        not_bearer = await _post_initialize(url, Authorization=TOKEN)
        right = await _post_initialize(url, Authorization=f"Bearer {TOKEN}")
    assert [missing.status_code, wrong.status_code, not_bearer.status_code] == [401, 401, 401]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in missing.text
    assert right.status_code == 200


@pytest.mark.parametrize("mode", ERAS)
async def test_with_the_right_bearer_token_the_official_client_completes_a_gated_run(
    mode: str, settings: Settings, serve_http: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = serve_http(http_app(settings, host="127.0.0.1", token_env=TOKEN_ENV))
    with anyio.fail_after(30):
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode, elicitation_callback=Human()) as client,
        ):
            report, _ = await _gated_run(client)
    assert report["status"] == "completed", report


async def test_a_foreign_origin_or_host_is_refused_and_a_loopback_origin_is_not(
    settings: Settings, serve_http: Serve
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    port = url.split(":")[2].split("/")[0]
    with anyio.fail_after(10):
        evil_origin = await _post_initialize(url, Origin="http://evil.example")
        evil_host = await _post_initialize(url, Host=f"evil.example:{port}")
        local_origin = await _post_initialize(url, Origin=f"http://localhost:{port}")
    assert evil_origin.status_code == 403
    assert evil_host.status_code == 421
    assert local_origin.status_code == 200


async def test_an_allowed_origin_flag_admits_that_origin_and_still_refuses_others(
    settings: Settings, serve_http: Serve
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1", allowed_origins=["https://app.example"]))
    with anyio.fail_after(10):
        allowed = await _post_initialize(url, Origin="https://app.example")
        other = await _post_initialize(url, Origin="https://evil.example")
    assert allowed.status_code == 200
    assert other.status_code == 403


def _padded_initialize(size: int) -> bytes:
    padded = {**INITIALIZE, "params": {**INITIALIZE["params"], "clientInfo": {"name": "x" * size, "version": "0"}}}
    return json.dumps(padded).encode()


async def test_a_request_body_over_the_limit_is_refused_with_413_also_when_chunked(
    settings: Settings, serve_http: Serve
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1", max_body_bytes=64_000))
    body = _padded_initialize(100_000)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit must count what arrives
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    headers = {**ACCEPT, "Content-Type": "application/json"}
    with anyio.fail_after(10):
        async with httpx2.AsyncClient() as http:
            declared = await http.post(url, content=body, headers=headers)
            chunked = await http.post(url, content=chunks(), headers=headers)
            small = await http.post(url, content=_padded_initialize(1_000), headers=headers)
    assert declared.status_code == 413
    assert chunked.status_code == 413
    assert small.status_code == 200


async def test_the_default_body_limit_refuses_two_megabytes(settings: Settings, serve_http: Serve) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    with anyio.fail_after(10):
        async with httpx2.AsyncClient() as http:
            refused = await http.post(
                url, content=_padded_initialize(2_000_000), headers={**ACCEPT, "Content-Type": "application/json"}
            )
    assert refused.status_code == 413


def test_listening_beyond_loopback_without_a_token_is_a_config_error(settings: Settings) -> None:
    with pytest.raises(ConfigError) as caught:
        http_app(settings, host=WILDCARD)  # built, never bound
    message = str(caught.value)
    assert WILDCARD in message
    assert "--token-env" in message


def test_a_bearer_token_shorter_than_16_characters_is_a_config_error(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "short")
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        http_app(settings, host=WILDCARD, token_env=TOKEN_ENV)


async def test_a_wildcard_bind_with_a_token_serves_clients_by_any_host_name(
    settings: Settings, serve_http: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Built for 0.0.0.0, served on loopback: remote clients name the machine in ways it cannot list in advance.
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = serve_http(http_app(settings, host=WILDCARD, token_env=TOKEN_ENV))
    with anyio.fail_after(10):
        by_name = await _post_initialize(url, Authorization=f"Bearer {TOKEN}", Host="runbridge.lan:8765")
        without_token = await _post_initialize(url, Host="runbridge.lan:8765")
    assert by_name.status_code == 200
    assert without_token.status_code == 401


async def test_allowed_hosts_on_a_wildcard_bind_are_enforced(
    settings: Settings, serve_http: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    app = http_app(settings, host=WILDCARD, token_env=TOKEN_ENV, allowed_hosts=["runbridge.lan:*"])
    url = serve_http(app)
    auth = f"Bearer {TOKEN}"
    with anyio.fail_after(10):
        listed = await _post_initialize(url, Authorization=auth, Host="runbridge.lan:8765")
        other = await _post_initialize(url, Authorization=auth, Host="evil.example:8765")
    assert listed.status_code == 200
    assert other.status_code == 421


async def test_origin_is_checked_on_a_wildcard_bind_too_without_any_allowed_host(
    settings: Settings, serve_http: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guard checks Origin on its own (it once came only with the SDK's Host check, which a wildcard bind lacks).
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = serve_http(http_app(settings, host=WILDCARD, token_env=TOKEN_ENV, allowed_origins=["https://app.example"]))
    auth = f"Bearer {TOKEN}"
    with anyio.fail_after(10):
        listed = await _post_initialize(url, Authorization=auth, Origin="https://app.example", Host="runbridge.lan")
        other = await _post_initialize(url, Authorization=auth, Origin="https://evil.example", Host="runbridge.lan")
        local_page = await _post_initialize(url, Authorization=auth, Origin="http://localhost:3000")
        no_origin = await _post_initialize(url, Authorization=auth, Host="runbridge.lan")
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == "https://app.example"
    # Beyond loopback a page on "localhost" is one on the client's machine, not this one: not trusted by default.
    assert (other.status_code, local_page.status_code) == (403, 403)
    assert no_origin.status_code == 200


async def test_runbridge_serve_http_requires_its_token_serves_the_client_and_stops_on_sigterm(
    child_env: dict[str, str],
) -> None:
    port = free_port()
    env = {**child_env, TOKEN_ENV: TOKEN}
    command = [*RUNBRIDGE, "serve", "--http", "--port", str(port), "--token-env", TOKEN_ENV]
    url = f"http://127.0.0.1:{port}/mcp"
    with anyio.fail_after(40):
        async with await anyio.open_process(command, env=env) as process:
            await wait_for_port(port)
            refused = await _post_initialize(url)
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
                Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
            ):
                tools = {tool.name for tool in (await client.list_tools()).tools}
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(3):
                code = await process.wait()
            assert process.stderr is not None
            stderr = b"".join([chunk async for chunk in process.stderr]).decode()
    assert refused.status_code == 401
    assert "runs_start" in tools
    assert code in (0, -signal.SIGTERM), stderr  # uvicorn re-raises the signal after its graceful shutdown
    assert TOKEN not in stderr


@pytest.mark.parametrize(
    "flags",
    [
        ("--max-sessions", "0"),
        ("--session-idle-seconds", "-5"),
        ("--allow-origin", "app.example"),
    ],
)
def test_serve_http_flags_that_cannot_work_are_one_line_errors_before_it_listens(
    flags: tuple[str, str], child_env: dict[str, str]
) -> None:
    done = run_cli("serve", "--http", "--port", str(free_port()), *flags, env=child_env)
    assert done.returncode != 0
    assert flags[0] in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
