"""The run store contract, continued: a run belongs to the user who started it (kept from its first record, never
changed by a later one); a user's lists hold that user's runs and those runs' gates only, in full pages; run
against each store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbridge.core.models import Gate, Run, RunStatus
from runbridge.state import RunStore, SqliteStore

pytestmark = pytest.mark.anyio

ALICE, BOB = "https://id.example|alice", "https://id.example|bob"


async def test_a_run_keeps_the_user_who_started_it(store: RunStore) -> None:
    await store.record_run("p", Run(run_id="r1", status=RunStatus.RUNNING), user=ALICE)
    await store.record_run("p", Run(run_id="r1", status=RunStatus.COMPLETED), user=BOB)  # a later record: kept
    await store.record_run("p", Run(run_id="r1", status=RunStatus.COMPLETED))
    await store.update_run("p", "r1", status=RunStatus.COMPLETED)
    await store.record_run("p", Run(run_id="anyone's", status=RunStatus.RUNNING))
    run = await store.get_run("p", "r1")
    assert run is not None
    assert run.user == ALICE
    anyone = await store.get_run("p", "anyone's")
    assert anyone is not None
    assert anyone.user is None


async def test_a_users_list_holds_their_runs_only_in_pages(store: RunStore) -> None:
    for n in range(7):
        await store.record_run("p", Run(run_id=f"r{n}", status=RunStatus.RUNNING), user=ALICE if n % 3 else BOB)
    await store.record_run("q", Run(run_id="elsewhere", status=RunStatus.RUNNING), user=ALICE)
    everyone = await store.list_runs(None, limit=50)
    assert len(everyone.items) == 8
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await store.list_runs("p", user=ALICE, limit=2, cursor=cursor)
        pages.append([run.run_id for run in page.items])
        assert all(run.user == ALICE for run in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(run_id for page in pages for run_id in page) == ["r1", "r2", "r4", "r5"]
    assert all(len(page) == 2 for page in pages[:-1])
    bobs = await store.list_runs(None, user=BOB, limit=50)
    assert sorted(run.run_id for run in bobs.items) == ["r0", "r3", "r6"]
    running = await store.list_runs(None, user=ALICE, status=RunStatus.RUNNING, limit=50)
    assert sorted(run.run_id for run in running.items) == ["elsewhere", "r1", "r2", "r4", "r5"]
    assert (await store.list_runs(None, user="https://id.example|carol")).items == []


async def test_a_state_file_from_before_users_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE runs (profile TEXT NOT NULL, run_id TEXT NOT NULL, target_id TEXT, status TEXT NOT NULL, "
        "cursor TEXT, error TEXT, usage TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, outputs TEXT, "
        "locator TEXT, PRIMARY KEY (profile, run_id))"
    )
    db.execute(
        "INSERT INTO runs VALUES ('p', 'old', NULL, 'completed', NULL, NULL, NULL, "
        "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', NULL, NULL)"
    )
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        old = await store.get_run("p", "old")
        assert old is not None
        assert old.user is None
        await store.record_run("p", Run(run_id="new", status=RunStatus.RUNNING), user=ALICE)
        assert [run.run_id for run in (await store.list_runs("p", user=ALICE)).items] == ["new"]
    finally:
        await store.aclose()


def _gate(gate_id: str, run_id: str, opened: int) -> Gate:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=opened)
    return Gate(gate_id=gate_id, run_id=run_id, kind="approval", prompt="Approve?", opened_at=at)


async def test_a_users_gates_are_those_of_their_runs_in_full_pages(store: RunStore) -> None:
    await store.record_run("p", Run(run_id="alices", status=RunStatus.WAITING), user=ALICE)
    await store.record_run("p", Run(run_id="bobs", status=RunStatus.WAITING), user=BOB)
    await store.record_run("p", Run(run_id="anyone's", status=RunStatus.WAITING))
    for n in range(9):
        await store.record_gate("p", _gate(f"g{n}", ("alices", "bobs", "anyone's")[n % 3], n))
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await store.gates_page("p", user=ALICE, limit=2, cursor=cursor)
        pages.append([record.gate.gate_id for record in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [["g0", "g3"], ["g6"]]
    assert [r.gate.gate_id for r in (await store.gates_page(None, user=BOB, limit=10)).items] == ["g1", "g4", "g7"]
    assert [r.gate.gate_id for r in (await store.gates_page(run_id="bobs", user=ALICE)).items] == []
    assert len((await store.gates_page("p", limit=20)).items) == 9
