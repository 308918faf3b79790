"""Runs followed for listen streams by one server at a time (`bridge/subscriptions.py` with a shared store): two
runbridge servers (two `App`s) on one real Redis and the OpenWOP sandbox on loopback. Of two servers with listeners
for one run, one watches the backend; when it stops following, the other takes over; a server with a 2025-era
subscriber of its own (told on its session, not over the bus) follows the run itself, whoever holds the lease."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from openwop_harness import SENTINEL_KEY

from redis_server import RedisServer, redis_server_or_skip
from runbridge.bridge.app import App
from runbridge.core.config import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_FOLLOW_LEASE_SANDBOX_KEY"
BUS = "bus"  # stands for the server's subscription bus: a notifier shared by listen streams


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(redis_server_or_skip(), tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def _servers(sandbox: SandboxServer, redis: RedisServer, count: int) -> AsyncIterator[list[App]]:
    from runbridge.state.redis_store import RedisStore  # the optional extra runbridge[redis]

    profile = Profile(name="wop", family="openwop", base_url=sandbox.base_url, api_key_env=KEY_ENV)
    settings = Settings(profiles={"wop": profile}, state_url=redis.url, follow_lease_seconds=1.0)
    prefix = f"test-{secrets.token_hex(4)}"
    apps: list[App] = []
    try:
        async with anyio.create_task_group() as tasks:
            for i in range(count):
                apps.append(App(settings, RedisStore(redis.url, prefix=prefix, owner=f"host:{i}:x"), tasks))
            try:
                yield apps
            finally:
                tasks.cancel_scope.cancel()
    finally:
        for app in apps:  # once every watch has ended
            await app.aclose()


class Told:
    def __init__(self) -> None:
        self.uris: list[str] = []

    async def __call__(self, uri: str) -> None:
        self.uris.append(uri)


async def _waiting_run(sandbox: SandboxServer) -> str:
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers) as http:
        started = await http.post("/v1/runs", json={"workflowId": "approval-demo", "inputs": {}})
        started.raise_for_status()
        return f"runbridge://wop/runs/{started.json()['runId']}"


async def _until(condition: Callable[[], bool], within: float = 10) -> None:
    with anyio.fail_after(within):
        while not condition():
            await anyio.sleep(0.02)  # polls state that another task or thread changes


def _watches(sandbox: SandboxServer, before: int) -> int:
    return int(sandbox.stats()["open_streams"]) - before


async def test_of_two_servers_with_listeners_one_watches_and_the_other_takes_over_when_it_stops(
    sandbox: SandboxServer, redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)
    uri = await _waiting_run(sandbox)
    before = int(sandbox.stats()["open_streams"])
    async with _servers(sandbox, redis, 2) as (one, two):
        told_one, told_two = Told(), Told()
        one.subscriptions.share(uri, BUS, told_one)
        await _until(lambda: bool(told_one.uris))  # the events up to the gate: `one` holds the lease and watches
        two.subscriptions.share(uri, BUS, told_two)
        await anyio.sleep(1.5)  # `two` tries the lease several times meanwhile
        assert _watches(sandbox, before) == 1, "one backend watch for both servers"
        assert told_two.uris == [], "the other server's listeners hear the holder over the bus, not from it"
        one.subscriptions.unshare(uri, BUS)  # its listeners left: it gives the lease up
        await _until(lambda: bool(told_two.uris))  # `two` takes over and re-attaches from the saved cursor
        assert _watches(sandbox, before) == 1


async def test_a_server_with_a_subscriber_of_its_own_follows_the_run_itself(
    sandbox: SandboxServer, redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)
    uri = await _waiting_run(sandbox)
    before = int(sandbox.stats()["open_streams"])
    async with _servers(sandbox, redis, 2) as (one, two):
        one.subscriptions.share(uri, BUS, Told())
        await _until(lambda: _watches(sandbox, before) == 1)
        session = Told()  # a 2025-era session on `two`, told on its own channel
        two.subscriptions.subscribe(uri, "session", session)
        await _until(lambda: bool(session.uris))
        assert _watches(sandbox, before) == 2
