"""Fixtures shared by the unit tests: every run store the contract suite runs against."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runbridge.state import RunStore, SqliteStore

OpenStore = Callable[..., RunStore]


@pytest.fixture(params=["sqlite-file", "sqlite-memory"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens a store on one set of data (`owner=` names the process it claims gates as); each call is another
    process's view of the same data where the store can be shared, else the test is skipped."""
    opened: list[RunStore] = []

    def open_one(**options: object) -> RunStore:
        if request.param == "sqlite-memory" and opened:
            pytest.skip("a store in memory belongs to one process: it cannot be opened twice")
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
