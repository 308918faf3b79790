"""Fixtures any reliability module may use: sandboxes kept for the session (one per configuration, each handed out
with its counters reset and its faults cleared), the environment variable runbridge profiles read their key from,
and a real Redis for one test.

Modules that want their own sandboxes or profiles build them; nothing here is autouse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redis_server import RedisServer, redis_server_or_skip
from runbridge.sandbox import DEFAULT_API_KEY, SandboxServer

KEY_ENV = "RUNBRIDGE_RELIABILITY_KEY"


@pytest.fixture(scope="session")
def sandbox_pool() -> Iterator[dict[str, SandboxServer]]:
    """Started sandboxes by configuration, stopped at the end of the session."""
    pool: dict[str, SandboxServer] = {}
    yield pool
    SandboxServer.stop_all(pool.values())


@pytest.fixture
def make_sandbox(sandbox_pool: dict[str, SandboxServer]) -> Callable[..., SandboxServer]:
    """`make_sandbox(family, **SandboxServer options)`: a running sandbox with fresh counters and no faults.

    Keep-alives come every 20 ms unless asked otherwise, so quiet stretches are short and still full of them.
    """

    def make(family: str = "openwop", **options: Any) -> SandboxServer:
        settings: dict[str, Any] = {"keepalive_seconds": 0.02, **options}
        key = f"{family}:{sorted(settings.items())!r}"
        server = sandbox_pool.get(key)
        if server is None:
            server = sandbox_pool[key] = SandboxServer(family, **settings).start()
        server.faults.clear()
        server.context.stats.reset()
        return server

    return make


@pytest.fixture
def sandbox_key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of the environment variable holding the sandboxes' key (the default key of `SandboxServer`)."""
    monkeypatch.setenv(KEY_ENV, DEFAULT_API_KEY)
    return KEY_ENV


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A `redis-server` of this test's own (in `tmp_path/redis`), every write on disk (AOF) so a restart keeps it."""
    server = RedisServer(redis_server_or_skip(), tmp_path / "redis", appendonly=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
