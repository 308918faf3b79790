"""Fixtures for the sandbox tests: real sandbox servers on loopback, stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runbridge.sandbox import SandboxServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def _sandbox_pool() -> Iterator[dict[str, SandboxServer]]:
    """Servers shared by the whole session, one per distinct configuration (starting one per test is slow)."""
    pool: dict[str, SandboxServer] = {}
    yield pool
    SandboxServer.stop_all(pool.values())


@pytest.fixture
def make_sandbox(_sandbox_pool: dict[str, SandboxServer]) -> Callable[..., SandboxServer]:
    """A started sandbox for these settings (fast keep-alives by default), with clean counters and no faults.

    Servers are shared between tests with the same settings; each test gets them reset, and runs of earlier tests
    are left alone (every test starts its own runs).
    """

    def make(**kwargs: Any) -> SandboxServer:
        settings = {"keepalive_seconds": 0.05, **kwargs}
        key = repr(sorted(settings.items()))
        server = _sandbox_pool.get(key)
        if server is None:
            server = _sandbox_pool[key] = SandboxServer(**settings).start()
        server.faults.clear()
        server.context.stats.reset()
        return server

    return make


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """A reference-variant OpenWOP sandbox."""
    return make_sandbox()
