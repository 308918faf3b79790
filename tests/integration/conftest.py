"""Integration fixtures: OpenWOP sandbox servers on loopback (one per host variant) and adapters built on them.

Servers are shared by the whole session, one per distinct configuration; each test gets its server's counters
reset and its faults cleared, and starts its own runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest
from openwop_harness import SENTINEL_KEY, Connect, MakeSandbox

from runbridge.backends.openwop import OpenWopBackend
from runbridge.core.config import Profile
from runbridge.http import HttpClient, RetryPolicy, Secret
from runbridge.sandbox import SandboxServer

WORKFLOWS = ["approval-demo", "clarify-demo", "failing-demo", "long-demo", "quick-demo", "external-demo"]
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, budget=2.0)


@pytest.fixture(scope="session")
def _sandbox_pool() -> Iterator[dict[str, SandboxServer]]:
    pool: dict[str, SandboxServer] = {}
    yield pool
    SandboxServer.stop_all(pool.values())


@pytest.fixture
def make_sandbox(_sandbox_pool: dict[str, SandboxServer]) -> MakeSandbox:
    """A started OpenWOP sandbox with these settings (variant, ...): fast keep-alives, the sentinel key."""

    def make(**kwargs: Any) -> SandboxServer:
        settings: dict[str, Any] = {"keepalive_seconds": 0.05, "api_key": SENTINEL_KEY, **kwargs}
        key = repr(sorted(settings.items()))
        server = _sandbox_pool.get(key)
        if server is None:
            server = _sandbox_pool[key] = SandboxServer("openwop", **settings).start()
        server.faults.clear()
        server.context.stats.reset()
        return server

    return make


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> SandboxServer:
    """The reference-variant host."""
    return make_sandbox()


@pytest.fixture
async def connect(anyio_backend: str) -> AsyncIterator[Connect]:
    """`connect(base_url_or_sandbox, key=..., retry=..., transport=..., **profile fields)` → an adapter, closed at
    teardown. The key defaults to the sandbox's own; retries are fast unless a test passes its policy."""
    made: list[OpenWopBackend] = []

    def _connect(
        where: SandboxServer | str,
        *,
        key: str | None = None,
        retry: RetryPolicy = FAST_RETRY,
        transport: httpx2.AsyncBaseTransport | None = None,
        **profile: Any,
    ) -> OpenWopBackend:
        base_url = where if isinstance(where, str) else where.base_url
        secret = key if key is not None else (SENTINEL_KEY if isinstance(where, str) else where.api_key)
        settings: dict[str, Any] = {"workflows": WORKFLOWS, "read_timeout": 5.0, "connect_timeout": 2.0, **profile}
        prof = Profile(name="sandbox", family="openwop", base_url=base_url, **settings)
        backend = OpenWopBackend(prof, HttpClient(prof, secret=Secret(secret), retry=retry, transport=transport))
        made.append(backend)
        return backend

    yield _connect
    for backend in made:
        await backend.aclose()
