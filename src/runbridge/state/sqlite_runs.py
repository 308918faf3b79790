"""The SQLite store's runs: recorded, updated without ever moving a status backwards, listed a page at a time off
an index, and summed for usage in SQL.

Blocking functions on one connection; `SqliteStore` runs them off the event loop, one at a time.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from ..core.models import Page, Run, RunStatus, Usage, utc_now
from .cursors import decode_cursor, encode_cursor
from .records import RUN_FIELDS, run_record, stored_json, stored_usage
from .store import KEPT_STATUSES, RunRecord

__all__ = ["get_run", "get_stored", "list_runs", "record_run", "runs_since", "set_locator", "update_run"]

_COLUMNS = ", ".join(RUN_FIELDS)
_KEPT = "(" + ", ".join(f"'{k}'" for k in KEPT_STATUSES) + ")"


def record_run(
    db: sqlite3.Connection, profile: str, run: Run, locator: dict[str, str] | None, user: str | None = None
) -> None:
    now = utc_now().isoformat()
    db.execute(
        f"""INSERT INTO runs (profile, run_id, target_id, status, error, created_at, updated_at, locator,
             started_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (profile, run_id) DO UPDATE SET
             target_id = COALESCE(excluded.target_id, runs.target_id),
             status = CASE WHEN excluded.status = 'unknown' AND runs.status IN {_KEPT} THEN runs.status
                           ELSE excluded.status END,
             error = COALESCE(excluded.error, runs.error),
             locator = COALESCE(excluded.locator, runs.locator), updated_at = excluded.updated_at,
             started_by = COALESCE(runs.started_by, excluded.started_by)""",  # noqa: S608
        (profile, run.run_id, run.target_id, run.status.value, run.error, now, now, stored_json(locator), user),
    )


def update_run(
    db: sqlite3.Connection,
    profile: str,
    run_id: str,
    *,
    status: RunStatus | None = None,
    cursor: str | None = None,
    error: str | None = None,
    usage: Usage | None = None,
    target_id: str | None = None,
    outputs: Any = None,
) -> None:
    """Record what a watch learned; `usage` is the run's total so far (the caller adds what it saw). A target
    already recorded is kept, and so is an end or a wait where the new status is only `unknown`."""
    now = utc_now().isoformat()
    used = stored_usage(usage)
    out = stored_json(outputs)
    new_status = status.value if status else None
    db.execute(
        f"""INSERT INTO runs (profile, run_id, target_id, status, cursor, error, usage, created_at, updated_at,
             outputs)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (profile, run_id) DO UPDATE SET
             target_id = COALESCE(runs.target_id, ?),
             status = CASE WHEN ? = 'unknown' AND runs.status IN {_KEPT} THEN runs.status
                           ELSE COALESCE(?, runs.status) END,
             cursor = COALESCE(?, runs.cursor),
             error = COALESCE(?, runs.error), usage = COALESCE(?, runs.usage),
             outputs = COALESCE(?, runs.outputs), updated_at = ?""",  # noqa: S608  (a constant list)
        (
            *(profile, run_id, target_id, new_status or "unknown", cursor, error, used, now, now, out),
            *(target_id, new_status, new_status, cursor, error, used, out, now),
        ),
    )


def get_stored(db: sqlite3.Connection, profile: str, run_id: str) -> dict[str, Any] | None:
    """The run as stored (`records.RUN_FIELDS`), or None when it is not recorded."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM runs WHERE profile = ? AND run_id = ?",  # noqa: S608  (constant columns)
        (profile, run_id),
    ).fetchone()
    return _stored(row) if row else None


def get_run(db: sqlite3.Connection, profile: str, run_id: str) -> RunRecord | None:
    stored = get_stored(db, profile, run_id)
    return run_record(stored) if stored else None


def list_runs(
    db: sqlite3.Connection,
    profile: str | None,
    cursor: str | None,
    limit: int,
    status: RunStatus | None,
    user: str | None = None,
) -> Page[RunRecord]:
    """Newest first (by when runbridge first recorded the run, so reading a run does not reorder the list), read
    off `runs_by_created`/`runs_by_status` (or their every-profile twins) from just after the cursor's row."""
    sql = f"SELECT {_COLUMNS}, rowid FROM runs WHERE 1 = 1"  # noqa: S608  (a constant column list)
    args: list[object] = []
    if profile is not None:
        sql += " AND profile = ?"
        args.append(profile)
    if status is not None:
        sql += " AND status = ?"
        args.append(status.value)
    if user is not None:
        sql += " AND started_by = ?"
        args.append(user)
    if cursor:
        sql += " AND (created_at, rowid) < (?, ?)"
        args += decode_cursor(cursor, (str, int))
    rows = db.execute(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", [*args, limit + 1]).fetchall()
    page = rows[:limit]
    more = encode_cursor(page[-1][7], page[-1][-1]) if len(rows) > limit else None
    return Page[RunRecord].of([run_record(_stored(r)) for r in page], more)


def runs_since(db: sqlite3.Connection, profile: str | None, since: datetime) -> list[RunRecord]:
    """The runs first recorded at or after `since`, oldest first, on one profile or (None) every profile."""
    sql = f"SELECT {_COLUMNS} FROM runs WHERE created_at >= ?"  # noqa: S608  (a constant column list)
    args: list[object] = [since.astimezone(UTC).isoformat()]
    if profile is not None:
        sql += " AND profile = ?"
        args.append(profile)
    return [run_record(_stored(r)) for r in db.execute(sql + " ORDER BY created_at, rowid", args)]


def set_locator(db: sqlite3.Connection, profile: str, run_id: str, locator: dict[str, str]) -> bool:
    """Merge `locator`'s keys into the run's; False (and nothing written) when the run is not recorded."""
    cur = db.execute(
        "UPDATE runs SET locator = json_patch(COALESCE(locator, '{}'), ?) WHERE profile = ? AND run_id = ?",
        (json.dumps(locator), profile, run_id),
    )
    return cur.rowcount == 1


def _stored(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row whose first columns are `_COLUMNS`, by name (what follows them is left out)."""
    return dict(zip(RUN_FIELDS, row, strict=False))
