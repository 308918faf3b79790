"""`runs_list`'s merge of a backend's run history with runbridge's records (`bridge/run_lists.py`), on the SQLite
store and a backend listing runs by offset: every page size gives every run once, newest first, in the one order of
both sources; a status filter and runbridge's records of backend runs are honoured on every page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import anyio
import pytest

from runbridge.bridge.run_lists import merged_runs
from runbridge.core.errors import CursorError
from runbridge.core.models import Page, Run, RunStatus
from runbridge.state import SqliteStore

pytestmark = pytest.mark.anyio


class History:
    """A backend's run history, newest first, paged by offset."""

    def __init__(self, runs: list[Run]) -> None:
        self.runs = sorted(runs, key=lambda r: r.created_at or 0, reverse=True)  # type: ignore[arg-type, return-value]

    async def list_runs(self, *, cursor: str | None = None, limit: int = 50, target_id: str | None = None) -> Page[Run]:
        start = Page.start_of(cursor)
        more = start + limit < len(self.runs)
        return Page.of(self.runs[start : start + limit], next_cursor=str(start + limit) if more else None)

    def listed_id(self, locator: Mapping[str, str]) -> str | None:
        return locator.get("listed_as")


async def _world() -> tuple[SqliteStore, History, list[str]]:
    """Six runs runbridge recorded and, between and around them, twelve the backend lists (one of them recorded
    too): the ids in the one newest-first order."""
    store = SqliteStore(":memory:")
    for i in range(6):
        status = RunStatus.FAILED if i % 2 else RunStatus.COMPLETED
        await store.record_run("p", Run(run_id=f"rb{i}", status=status))
        await anyio.sleep(0.002)
    await store.record_run("p", Run(run_id="shared", status=RunStatus.COMPLETED))
    records = {r.run_id: r.created_at for r in (await store.list_runs("p", limit=100)).items}
    backend: list[Run] = []
    for i in range(12):
        near = records[f"rb{i % 6}"] + timedelta(microseconds=500 if i < 6 else -500)
        status = RunStatus.FAILED if i % 3 == 0 else RunStatus.COMPLETED
        backend.append(Run(run_id=f"be{i}", status=status, created_at=near))
    backend.append(Run(run_id="shared", status=RunStatus.COMPLETED, created_at=records["shared"]))
    when = {**records, **{r.run_id: r.created_at for r in backend if r.run_id != "shared"}}
    order = sorted(when, key=lambda k: when[k], reverse=True)
    return store, History(backend), order


async def _pages(store: SqliteStore, history: History, limit: int, status: RunStatus | None = None) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        items, cursor = await merged_runs(store, "p", history, cursor=cursor, limit=limit, status=status)
        assert len(items) <= limit
        seen += [i.run_id for i in items]
        if cursor is None:
            return seen
    raise AssertionError("no last page")


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 50])
async def test_every_page_size_gives_every_run_once_newest_first(limit: int) -> None:
    store, history, order = await _world()
    try:
        assert await _pages(store, history, limit) == order
        failed = await _pages(store, history, limit, RunStatus.FAILED)
    finally:
        await store.aclose()
    statuses = {r.run_id: r.status for r in history.runs} | {f"rb{i}": RunStatus.FAILED for i in (1, 3, 5)}
    assert failed == [k for k in order if statuses.get(k) is RunStatus.FAILED]


async def test_a_run_in_both_is_shown_as_runbridge_recorded_it() -> None:
    store, history, _ = await _world()
    try:
        items, _ = await merged_runs(store, "p", history, cursor=None, limit=100, status=None)
    finally:
        await store.aclose()
    assert [i.source for i in items if i.run_id == "shared"] == ["runbridge"]


async def test_a_record_the_backend_lists_under_its_own_id_is_shown_once_as_the_backend_lists_it() -> None:
    store, history, _ = await _world()
    try:
        await store.record_run("p", Run(run_id="rb-call", status=RunStatus.COMPLETED), locator={"listed_as": "be4"})
        await store.record_run("p", Run(run_id="rb-own", status=RunStatus.COMPLETED), locator={"listed_as": "rb-own"})
        items, _ = await merged_runs(store, "p", history, cursor=None, limit=100, status=None)
    finally:
        await store.aclose()
    ids = [i.run_id for i in items]
    assert "rb-call" not in ids
    assert [i.source for i in items if i.run_id == "be4"] == ["backend"]
    assert ids.count("rb-own") == 1


async def test_a_cursor_not_given_out_is_refused() -> None:
    store, history, _ = await _world()
    try:
        for bad in ("3", "m1.garbage", "m1.eyJiIjoxfQ=="):
            with pytest.raises(CursorError):
                await merged_runs(store, "p", history, cursor=bad, limit=5, status=None)
    finally:
        await store.aclose()
