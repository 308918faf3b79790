"""The SQLite store's file: private whatever the umask, opened from a state file written by the previous
runbridge, every list query read off an index in order, and usage sums that always equal the runs they sum."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from runbridge.core.errors import RunbridgeError
from runbridge.core.models import Gate, Run, RunStatus, Usage
from runbridge.state import SqliteStore, sqlite_gates, sqlite_runs, sqlite_usage
from runbridge.state.cursors import encode_cursor
from runbridge.state.sqlite_schema import connect

pytestmark = pytest.mark.anyio

P = "local"
EVERY_STATE = ("open", "answering", "answered", "declined", "closed")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    before = os.umask(0o022)
    yield
    os.umask(before)


# -- private files ----------------------------------------------------------------------------------------------


async def test_a_new_state_directory_and_its_files_are_the_users_alone(tmp_path: Path, loose_umask: None) -> None:
    path = tmp_path / "fresh" / "state.db"
    store = SqliteStore(path)
    await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))  # the WAL and shared memory exist now
    try:
        assert _mode(path.parent) == 0o700
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert (path.parent / name).exists(), name
            assert _mode(path.parent / name) == 0o600, name
    finally:
        await store.aclose()


async def test_a_state_file_readable_by_others_is_narrowed_when_opened(tmp_path: Path, loose_umask: None) -> None:
    tmp_path.chmod(0o755)  # a folder the user chose, readable by others
    path = tmp_path / "state.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    store = SqliteStore(path)
    await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))
    await store.aclose()
    assert _mode(path) == 0o600
    assert _mode(tmp_path) == 0o755, "a directory runbridge did not create is left as it is"


# -- never on the event loop -----------------------------------------------------------------------------------


async def test_a_write_waiting_on_another_process_lock_leaves_the_event_loop_free_then_fails_clearly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path, busy_seconds=1.0)
    other = sqlite3.connect(path, isolation_level=None)  # another process, in the middle of a long write
    other.execute("BEGIN EXCLUSIVE")
    ticks: list[int] = []  # one per turn of the event loop's other work
    ticked: list[int] = []  # the turns taken by the time the write gave up
    failed: list[str] = []

    async def write() -> None:
        with pytest.raises(RunbridgeError) as refused:
            await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))
        failed.append(str(refused.value))
        ticked.append(len(ticks))

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write)
            while not failed:
                ticks.append(1)
                await anyio.sleep(0.01)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert ticked[0] >= 5, "the loop went on serving while the write waited for the lock"
    assert "runbridge's run store could not be used (database is locked)" in failed[0]
    assert "another runbridge process may be holding it" in failed[0]
    await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))  # the lock released: writes go through
    assert await store.get_run(P, "r") is not None
    await store.aclose()


# -- a state file from the previous runbridge -------------------------------------------------------------------

PREVIOUS_SCHEMA = """
CREATE TABLE runs (
    profile TEXT NOT NULL, run_id TEXT NOT NULL, target_id TEXT, status TEXT NOT NULL,
    cursor TEXT, error TEXT, usage TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, outputs TEXT,
    PRIMARY KEY (profile, run_id));
CREATE INDEX runs_by_update ON runs (profile, updated_at DESC);
CREATE TABLE gates (
    profile TEXT NOT NULL, gate_id TEXT NOT NULL, run_id TEXT NOT NULL, state TEXT NOT NULL,
    gate TEXT NOT NULL, opened_at TEXT NOT NULL, answered_at TEXT, decision TEXT,
    PRIMARY KEY (profile, gate_id));
CREATE INDEX gates_by_run ON gates (profile, run_id);
"""


def _previous_state_file(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(PREVIOUS_SCHEMA)
    now = datetime.now(UTC).isoformat()
    used = Usage(input_tokens=5, total_tokens=7, cost_usd=0.5).model_dump_json()
    db.executemany(
        "INSERT INTO runs VALUES ('p', ?, 'wf', ?, '7', NULL, ?, ?, ?, NULL)",
        [("done", "completed", used, now, now), ("waiting", "waiting", None, now, now)],
    )
    gate = Gate(gate_id="g", run_id="waiting", kind="approval", prompt="Ship?", opened_at=datetime.now(UTC))
    db.execute(
        "INSERT INTO gates VALUES ('p', 'g', 'waiting', 'answering', ?, ?, NULL, NULL)",
        (gate.model_dump_json(), gate.opened_at.isoformat()),
    )
    db.commit()
    db.close()


async def test_a_state_file_written_by_the_previous_runbridge_opens_with_everything_it_held(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _previous_state_file(path)
    store = SqliteStore(path)
    try:
        done = await store.get_run("p", "done")
        assert done is not None
        assert (done.status, done.cursor, done.usage, done.locator) == (
            RunStatus.COMPLETED,
            "7",
            Usage(input_tokens=5, total_tokens=7, cost_usd=0.5),
            None,
        )
        assert await store.set_locator("p", "done", {"thread": "t"}) is True
        assert [r.run_id for r in (await store.list_runs("p")).items] == ["waiting", "done"]
        (summed,) = await store.usage_sums("p", datetime.now(UTC) - timedelta(days=2), "target")
        assert (summed.key, summed.runs, summed.runs_with_usage, summed.usage.cost_usd) == ("wf", 2, 1, 0.5)
        (stale,) = await store.stale_claims()
        assert (stale.gate.gate_id, stale.owner, stale.lease_until) == ("g", None, None), "claimed before leases"
        assert await store.take_over("p", "g") is not None
    finally:
        await store.aclose()
    indexes = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"runs_by_created", "gates_by_state", "gates_of_run"} <= indexes
    assert not {"runs_by_update", "gates_by_run"} & indexes, "the old indexes no query uses any more are gone"


# -- every list query reads an index in order -------------------------------------------------------------------


def _plans(path: Path, queries: Callable[[sqlite3.Connection], object]) -> dict[str, str]:
    """Each statement `queries` ran (with its values), and its query plan, on a database whose statistics say what
    misleads a planner most: every run of one profile and status, every gate open (`ANALYZE`)."""
    db = connect(path)
    for i in range(300):
        sqlite_runs.update_run(db, P, f"run_{i}", status=RunStatus.WAITING, usage=Usage(total_tokens=i))
        sqlite_gates.record_gate(db, P, Gate(gate_id=f"g{i}", run_id=f"run_{i}", kind="approval", prompt="?"))
    db.execute("ANALYZE")
    ran: list[str] = []
    db.set_trace_callback(ran.append)
    queries(db)
    db.set_trace_callback(None)
    plans = {sql: " / ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql)) for sql in ran}
    db.close()
    return plans


def test_every_list_query_reads_its_page_off_an_index_without_sorting(tmp_path: Path) -> None:
    cursor = encode_cursor("2026-06-01T00:00:00+00:00", 7)
    gate_cursor = encode_cursor("2026-06-01T00:00:00+00:00", "g7")

    def lists(db: sqlite3.Connection) -> None:
        for profile in (P, None):
            for status in (None, RunStatus.WAITING):
                for after in (None, cursor):
                    sqlite_runs.list_runs(db, profile, after, 20, status)
            for states in (("open",), EVERY_STATE):
                for after in (None, gate_cursor):
                    sqlite_gates.gates(db, profile, None, states, after, 20)
        sqlite_gates.gates(db, P, "run_1", ("open",), None, None)
        for profile in (P, None):
            sqlite_gates.stale_claims(db, profile, "me")

    plans = _plans(tmp_path / "state.db", lists)
    assert len(plans) == 8 + 8 + 1 + 2
    for sql, plan in plans.items():
        one_run = "run_id = 'run_1'" in sql  # a run's own few gates: the planner may sort them
        assert one_run or "TEMP B-TREE" not in plan, (sql, plan)
        for step in plan.split(" / ")[
            : 1 if one_run else None
        ]:  # each reads an index in order (a scan of one with no filter: the newest)
            assert "USING INDEX" in step or "USING COVERING INDEX" in step, (sql, plan)


def test_usage_is_summed_from_the_daily_sums_and_the_first_days_runs_off_an_index(tmp_path: Path) -> None:
    def sums(db: sqlite3.Connection) -> None:
        for profile in (P, None):
            sqlite_usage.usage_sums(db, profile, datetime.now(UTC) - timedelta(days=30), "target")

    plans = _plans(tmp_path / "state.db", sums)
    assert len(plans) == 4
    for sql, plan in plans.items():
        if "FROM runs" in sql:  # the first day's runs: a range of the created_at index
            assert "SEARCH runs USING INDEX" in plan or "SEARCH runs USING COVERING INDEX" in plan, (sql, plan)
        else:  # the daily sums: a row per day, target and status, read whole or by day
            assert "usage_days" in plan, (sql, plan)


# -- usage sums -------------------------------------------------------------------------------------------------


def _rounded(rows: Iterable[Iterable[object]]) -> list[tuple[object, ...]]:
    """Rows with their costs rounded as a report rounds them (sums of floats differ in their last bits)."""
    return sorted((tuple(round(v, 6) if isinstance(v, float) else v for v in _flat(row)) for row in rows), key=repr)


def _flat(row: Iterable[object]) -> Iterator[object]:
    for value in row:
        yield from (value.model_dump().values() if isinstance(value, Usage) else (value,))


async def test_the_daily_usage_sums_always_equal_the_runs_they_sum(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    try:
        for i in range(12):
            await store.record_run(P if i % 3 else "other", Run(run_id=f"r{i}", status=RunStatus.RUNNING))
        for i in range(12):
            profile = P if i % 3 else "other"
            used = Usage(input_tokens=i, total_tokens=2 * i, cost_usd=i / 10 if i % 2 else None, turns=i % 4 or None)
            await store.update_run(profile, f"r{i}", usage=used, target_id=f"wf{i % 2}")
            await store.observe_run(profile, f"r{i}", status=RunStatus.COMPLETED if i % 4 else RunStatus.FAILED)
            await store.update_run(profile, f"r{i}", usage=used + Usage(total_tokens=1))
        await store.update_run(P, "r1", status=RunStatus.UNKNOWN)  # kept as it was: sums unchanged
    finally:
        await store.aclose()
    db = sqlite3.connect(path)
    kept = _rounded(db.execute("SELECT * FROM usage_days WHERE runs > 0"))
    db.execute("DELETE FROM usage_days")
    sqlite_usage.fill_usage_days(db)
    assert _rounded(db.execute("SELECT * FROM usage_days")) == kept, "written run by run == summed at once"
    db.close()
    store = SqliteStore(path)
    try:
        for group_by in ("target", "profile", "day", "status"):
            from_days = await store.usage_sums(None, datetime.now(UTC) - timedelta(days=3), group_by)  # type: ignore[arg-type]
            from_runs = await store.usage_sums(None, datetime.now(UTC) - timedelta(minutes=5), group_by)  # type: ignore[arg-type]
            assert _rounded(astuple(s) for s in from_days) == _rounded(astuple(s) for s in from_runs), group_by
        by_status = {s.key: s for s in await store.usage_sums(None, datetime.now(UTC) - timedelta(days=3), "status")}
        assert {k: s.runs for k, s in by_status.items()} == {"completed": 9, "failed": 3}
        assert by_status["failed"].usage.cost_usd is None, "no failed run reported a cost"
        assert by_status["completed"].usage.cost_usd == pytest.approx(0.1 + 0.3 + 0.5 + 0.7 + 0.9 + 1.1)
    finally:
        await store.aclose()
