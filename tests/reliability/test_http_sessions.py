"""Sessions of `runbridge serve --http` cannot be hoarded: a client that opens 3,000 sessions without a token and
leaves them idle locks no one out, and the server's memory stays bounded (the real command, its memory read from
/proc); sessions with nothing in flight expire after the idle timeout, while one whose call waits on a person at a
gate, or that listens, does not; at the cap the idlest session makes room, never a busy one."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ElicitRequestParams, ElicitResult
from surface_harness import child_env, profile_for, runbridge_http, serving, settings_for, structured, write_config
from tests.raw_jsonrpc import ACCEPT, INITIALIZE

from runbridge.cli.serve import http_app
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY = "sk-http-sessions-5b7e21c9"
KEY_ENV = "RB_HTTP_SESSIONS_KEY"
# Twenty-four times the cap: the hoarder fills it over and over, so a server that locked newcomers out at the cap, or
# kept idle sessions past it, shows here as surely as with more; each session costs the server some 4 ms of CPU to
# open (twice that with coverage measuring it).
ATTEMPTS = 1_200
CAP = 50
# Growth allowed from after a warm-up (120 sessions opened) to the end. A kept session costs about 38 KB, so the
# 1,080 sessions opened after the warm-up would take some 40 MB if they were kept, more than three times this bound;
# allocator noise stays far below it (some 2.5 MB measured).
MAX_GROWTH_KIB = 12 * 1024


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", api_key=KEY) as server:
        yield server


async def _open(http: httpx2.AsyncClient, url: str) -> httpx2.Response:
    return await http.post(url, json=INITIALIZE, headers=ACCEPT)


async def _alive(http: httpx2.AsyncClient, url: str, session: str) -> int:
    """The status a ping in `session` gets: 200 while the session lives, 404 once it has ended. Its id is one the
    session's own client never uses (a request id answered twice would take over that client's call)."""
    headers = {**ACCEPT, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
    ping = {"jsonrpc": "2.0", "id": f"probe-{uuid.uuid4().hex}", "method": "ping"}
    return (await http.post(url, json=ping, headers=headers)).status_code


@pytest.mark.slow  # a flood: 1,200 sessions, some 10 seconds
@pytest.mark.no_cover  # load: see tests/conftest.py
async def test_twelve_hundred_idle_sessions_lock_no_one_out_and_memory_stays_bounded(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    profiles = {"sandbox": profile_for("openwop", sandbox, "sandbox", KEY_ENV)}
    config = write_config(tmp_path / "runbridge.toml", profiles, state_path=":memory:", http_max_sessions=CAP)
    ids: list[str] = []
    statuses: list[int] = []
    tools: list[int] = []
    started = time.monotonic()
    with anyio.fail_after(240):
        async with runbridge_http(config, env=child_env(**{KEY_ENV: KEY})) as served:
            limits = httpx2.Limits(max_connections=16, max_keepalive_connections=16)
            async with httpx2.AsyncClient(timeout=30, limits=limits) as http:

                async def hoard(count: int) -> None:
                    for _ in range(count):
                        opened = await _open(http, served.url)
                        statuses.append(opened.status_code)
                        if "mcp-session-id" in opened.headers:
                            ids.append(opened.headers["mcp-session-id"])

                warm_up = 0
                for round_number in range(10):
                    async with anyio.create_task_group() as tasks:
                        for _ in range(16):
                            tasks.start_soon(hoard, ATTEMPTS // 10 // 16 + (1 if _ < (ATTEMPTS // 10) % 16 else 0))
                    if round_number == 0:
                        warm_up = served.rss_kib()
                    # Another client, between the hoarder's rounds: served every time.
                    async with Client(served.url, mode="legacy") as client:
                        tools.append(len((await client.list_tools()).tools))
                end = served.rss_kib()
                first = [await _alive(http, served.url, session) for session in ids[:20]]
                last = [await _alive(http, served.url, session) for session in ids[-20:]]
            log = served.log()
    elapsed = time.monotonic() - started
    assert len(statuses) == ATTEMPTS
    assert set(statuses) == {200}, "a newcomer was refused although the open sessions were idle"
    assert len(set(ids)) == ATTEMPTS
    assert len(tools) == 10
    assert all(count > 0 for count in tools)
    assert set(first) == {404}, "the oldest idle sessions should have made room"
    assert set(last) == {200}, "the newest sessions should still be open"
    assert end - warm_up < MAX_GROWTH_KIB, f"memory grew by {end - warm_up} KiB over {ATTEMPTS} sessions"
    assert "Traceback" not in log
    print(f"{ATTEMPTS} sessions in {elapsed:.1f} s; resident {warm_up} -> {end} KiB")


class NoListening(httpx2.AsyncHTTPTransport):
    """A client that keeps no listening stream open (its GET is answered 405 here, as by a server without one), so
    its session has a request in flight only while a call runs."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            return httpx2.Response(405, request=request)
        return await super().handle_async_request(request)


class Person:
    """Answers the gate (accept) once `release` is set, or after `delay` seconds: a person taking their time."""

    def __init__(self, delay: float | None = None) -> None:
        self.delay = delay
        self.asked = anyio.Event()
        self.release = anyio.Event()

    async def __call__(self, _ctx: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.asked.set()
        if self.delay is not None:
            await anyio.sleep(self.delay)  # the time the test is about: longer than the idle timeout
        else:
            await self.release.wait()
        return ElicitResult(action="accept", content={"decision": "accept"})


@asynccontextmanager
async def quiet_client(url: str, person: Person) -> AsyncIterator[tuple[Client, list[str]]]:
    """The official client without a listening stream; yields it and the session id(s) the server gave it."""
    ids: list[str] = []

    async def seen(response: httpx2.Response) -> None:
        session = response.headers.get("mcp-session-id")
        if session and session not in ids:
            ids.append(session)

    async with (
        httpx2.AsyncClient(transport=NoListening(), event_hooks={"response": [seen]}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy", elicitation_callback=person) as client,
    ):
        yield client, ids


def _settings(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Any:
    monkeypatch.setenv(KEY_ENV, KEY)
    return settings_for(profile_for("openwop", sandbox, "sandbox", KEY_ENV), **overrides)


async def test_a_session_expires_when_idle_but_not_while_its_call_waits_on_a_person_or_it_listens(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle = 1.5
    settings = _settings(sandbox, monkeypatch, http_session_idle_seconds=idle)
    slow = Person(delay=2.5 * idle)
    with serving(http_app(settings)) as url:
        async with httpx2.AsyncClient(timeout=10) as http:
            with anyio.fail_after(40):
                async with quiet_client(url, slow) as (client, ids), Client(url, mode="legacy") as listening:
                    report = structured(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
                    # Each ping is a request of the session, so the idle countdown restarts when it is answered.
                    pings = [await _alive(http, url, ids[0])]
                    await anyio.sleep(0.5 * idle)  # the time under test: half the idle timeout
                    pings.append(await _alive(http, url, ids[0]))
                    await anyio.sleep(1.6 * idle)  # past the idle timeout
                    pings.append(await _alive(http, url, ids[0]))
                    # Listening all that time (over four idle timeouts) without a call: still served.
                    still_listening = len((await listening.list_tools()).tools)
    assert report["status"] == "completed", report
    assert report["decision"] == "accepted"
    assert still_listening > 0
    assert pings == [200, 200, 404], "a session idle past its timeout ends, and not before"


async def test_at_the_cap_the_idle_session_makes_room_never_the_one_whose_call_waits_on_a_person(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(sandbox, monkeypatch)
    person = Person()
    with serving(http_app(settings, max_sessions=2)) as url:
        async with httpx2.AsyncClient(timeout=10) as http:
            with anyio.fail_after(40):
                async with quiet_client(url, person) as (client, ids), anyio.create_task_group() as tasks:
                    reports: list[dict[str, Any]] = []

                    async def start() -> None:
                        result = await client.call_tool("runs_start", {"target_id": "approval-demo"})
                        reports.append(structured(result))

                    tasks.start_soon(start)
                    await person.asked.wait()
                    idle = (await _open(http, url)).headers["mcp-session-id"]
                    newcomers = [await _open(http, url) for _ in range(3)]  # each makes room by ending the idlest
                    idle_after = await _alive(http, url, idle)
                    busy_after = await _alive(http, url, ids[0])
                    person.release.set()
    assert [r.status_code for r in newcomers] == [200, 200, 200]
    assert idle_after == 404, "the idle session should have made room"
    assert busy_after == 200, "the session waiting on a person was ended"
    assert [r["status"] for r in reports] == ["completed"], reports


async def test_when_every_session_has_a_call_waiting_a_newcomer_gets_a_clear_503_until_one_ends(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(sandbox, monkeypatch)
    person = Person()
    with serving(http_app(settings, max_sessions=1)) as url:
        async with httpx2.AsyncClient(timeout=10) as http:
            with anyio.fail_after(40):
                async with quiet_client(url, person) as (client, _), anyio.create_task_group() as tasks:
                    reports: list[dict[str, Any]] = []

                    async def start() -> None:
                        result = await client.call_tool("runs_start", {"target_id": "approval-demo"})
                        reports.append(structured(result))

                    tasks.start_soon(start)
                    await person.asked.wait()
                    refused = await _open(http, url)
                    person.release.set()
                with anyio.fail_after(10):
                    admitted = await _open(http, url)  # the call has ended: its session is idle and makes room
    assert refused.status_code == 503
    assert "--max-sessions" in refused.json()["error"]["message"]
    assert refused.headers["retry-after"]
    assert [r["status"] for r in reports] == ["completed"], reports
    assert admitted.status_code == 200
