"""Fixtures shared by the unit tests: every run store the contract suite runs against."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from redis_server import RedisServer, redis_server_or_skip
from runbridge.state import RunStore, SqliteStore

OpenStore = Callable[..., RunStore]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of this worker's own (skipped where none is installed, failed on CI)."""
    server = RedisServer(redis_server_or_skip(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite-file", "sqlite-memory", "redis"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens a store on one set of data (`owner=` names the process it claims gates as); each call is another
    process's view of the same data where the store can be shared, else the test is skipped. On Redis each test has
    a key prefix of its own on the worker's server."""
    opened: list[RunStore] = []
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    prefix = f"test-{secrets.token_hex(6)}"

    def open_one(**options: object) -> RunStore:
        if request.param == "sqlite-memory" and opened:
            pytest.skip("a store in memory belongs to one process: it cannot be opened twice")
        if request.param == "redis":
            from runbridge.state.redis_store import RedisStore  # the optional extra runbridge[redis]

            store: RunStore = RedisStore(url, prefix=prefix, **options)  # type: ignore[arg-type]
        else:
            where = tmp_path / "state.db" if request.param == "sqlite-file" else ":memory:"
            store = SqliteStore(where, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.aclose()


@pytest.fixture
def store(open_store: OpenStore) -> RunStore:
    return open_store()
