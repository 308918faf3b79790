"""The registry never lets a backend that cannot say (`unknown`: Synapse v1 has no run status) erase what runbridge
recorded while it followed a run: an end or a wait, its outputs and error. A registry file from before outputs were
kept gains the column."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runbridge.core.models import Run, RunStatus
from runbridge.state import SqliteStore

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("known", [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.WAITING])
async def test_an_unknown_status_never_replaces_an_end_or_a_wait(known: RunStatus) -> None:
    registry = SqliteStore(":memory:")
    await registry.update_run("p", "r1", status=known, error="boom", outputs={"response": "ok", "n": 5})
    record, _ = await registry.observe("p", Run(run_id="r1", status=RunStatus.UNKNOWN))
    await registry.update_run("p", "r1", status=RunStatus.UNKNOWN)
    again = await registry.get_run("p", "r1")
    assert again is not None
    assert (record.status, again.status) == (known, known)
    assert (again.outputs, again.error) == ({"response": "ok", "n": 5}, "boom")


async def test_a_running_run_that_is_lost_reads_unknown() -> None:
    registry = SqliteStore(":memory:")
    await registry.update_run("p", "r1", status=RunStatus.RUNNING)
    record, _ = await registry.observe("p", Run(run_id="r1", status=RunStatus.UNKNOWN))
    assert record.status is RunStatus.UNKNOWN


async def test_a_registry_written_before_outputs_were_kept_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE runs (profile TEXT NOT NULL, run_id TEXT NOT NULL, target_id TEXT, status TEXT NOT NULL, "
        "cursor TEXT, error TEXT, usage TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
        "PRIMARY KEY (profile, run_id))"
    )
    db.execute(
        "INSERT INTO runs VALUES ('p', 'old', NULL, 'completed', '7', NULL, NULL, '2026-01-01T00:00:00+00:00', "
        "'2026-01-01T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    registry = SqliteStore(path)
    old = await registry.get_run("p", "old")
    assert old is not None
    assert (old.status, old.outputs, old.cursor) == (RunStatus.COMPLETED, None, "7")
    await registry.update_run("p", "old", outputs=[1, 2])
    kept = await registry.get_run("p", "old")
    assert kept is not None
    assert kept.outputs == [1, 2]
