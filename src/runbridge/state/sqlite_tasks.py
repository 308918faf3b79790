"""The SQLite store's tasks: an MCP task bound to a run, stored with it, moving forward only, followed by one process
at a time (a lease, like a gate's claim), and gone from reads once past its ttl.

Blocking functions on one connection; `SqliteStore` runs them off the event loop, one at a time.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

from ..core.errors import InputError
from ..core.models import Page, utc_now
from .cursors import decode_cursor
from .records import TASK_FIELDS, task_expires, task_json, task_page, task_record, task_stored
from .store import TASK_ENDS, TaskRecord, TaskStatus

__all__ = [
    "TASKS_SCHEMA",
    "claim_task",
    "get_task",
    "list_tasks",
    "record_task",
    "tasks_of_run",
    "update_task",
]

# Created when a state file is opened: a file written by a runbridge from before tasks gains the table then.
TASKS_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, owner TEXT NOT NULL, profile TEXT NOT NULL, run_id TEXT NOT NULL, tool TEXT NOT NULL,
    status TEXT NOT NULL, status_message TEXT, gate_id TEXT, result TEXT, error TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, expires_at TEXT, ttl_ms INTEGER, poll_ms INTEGER NOT NULL,
    runner TEXT, runner_until TEXT)""",
    "CREATE INDEX IF NOT EXISTS tasks_by_owner ON tasks (owner, created_at, task_id)",
    "CREATE INDEX IF NOT EXISTS tasks_of_run ON tasks (profile, run_id)",
)

_COLUMNS = ", ".join(TASK_FIELDS)
_ENDS = "(" + ", ".join(f"'{status}'" for status in TASK_ENDS) + ")"  # spelled out in SQL
_NO_OWNER = ""  # stored for a task made without an identity (a column in an index is never NULL here)


def record_task(db: sqlite3.Connection, task: TaskRecord) -> None:
    if (
        db.execute("SELECT 1 FROM runs WHERE profile = ? AND run_id = ?", (task.profile, task.run_id)).fetchone()
        is None
    ):
        raise InputError(f"Run {task.run_id!r} is not recorded on profile {task.profile!r}: a task needs its run.")
    expires = task_expires(task)
    # Tasks past their ttl are gone from every read; their rows go as new tasks are made.
    db.execute("DELETE FROM tasks WHERE expires_at IS NOT NULL AND expires_at <= ?", (utc_now().isoformat(),))
    stored = task_stored(task, task.owner or _NO_OWNER)
    db.execute(
        f"INSERT INTO tasks ({_COLUMNS}, expires_at) VALUES ({', '.join('?' * (len(TASK_FIELDS) + 1))})",  # noqa: S608
        (*(stored[name] for name in TASK_FIELDS), expires.isoformat() if expires else None),
    )


def get_task(db: sqlite3.Connection, task_id: str) -> TaskRecord | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ? AND (expires_at IS NULL OR expires_at > ?)",  # noqa: S608
        (task_id, utc_now().isoformat()),
    ).fetchone()
    return _record(row) if row else None


def update_task(
    db: sqlite3.Connection,
    task_id: str,
    *,
    status: TaskStatus | None = None,
    status_message: str | None = None,
    gate_id: str | None = None,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> TaskRecord | None:
    now = utc_now().isoformat()
    db.execute(
        f"""UPDATE tasks SET
              status = COALESCE(?, status),
              status_message = COALESCE(?, status_message),
              gate_id = CASE WHEN COALESCE(?, status) = 'input_required' THEN COALESCE(?, gate_id) ELSE NULL END,
              result = COALESCE(?, result), error = COALESCE(?, error), updated_at = ?
            WHERE task_id = ? AND status NOT IN {_ENDS}""",  # noqa: S608  (constant)
        (status, status_message, status, gate_id, task_json(result), task_json(error), now, task_id),
    )
    return get_task(db, task_id)


def list_tasks(db: sqlite3.Connection, owner: str | None, *, cursor: str | None, limit: int) -> Page[TaskRecord]:
    params: list[Any] = [owner or _NO_OWNER, utc_now().isoformat()]
    after = ""
    if cursor:
        created, task_id = decode_cursor(cursor, (str, str))
        after = "AND (created_at, task_id) < (?, ?)"
        params += [created, task_id]
    rows = db.execute(
        f"""SELECT {_COLUMNS} FROM tasks WHERE owner = ? AND (expires_at IS NULL OR expires_at > ?) {after}
            ORDER BY created_at DESC, task_id DESC LIMIT ?""",  # noqa: S608  (constant)
        (*params, limit + 1),
    ).fetchall()
    return task_page([_record(row) for row in rows], limit)


def tasks_of_run(db: sqlite3.Connection, profile: str, run_id: str) -> list[TaskRecord]:
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE profile = ? AND run_id = ? AND status NOT IN {_ENDS} "  # noqa: S608
        "ORDER BY created_at, task_id",
        (profile, run_id),
    ).fetchall()
    return [_record(row) for row in rows]


def claim_task(db: sqlite3.Connection, task_id: str, runner: str, lease_seconds: float) -> bool:
    now = utc_now()
    cur = db.execute(
        f"""UPDATE tasks SET runner = ?, runner_until = ?
            WHERE task_id = ? AND status NOT IN {_ENDS}
              AND (runner IS NULL OR runner = ? OR runner_until IS NULL OR runner_until < ?)""",  # noqa: S608
        (runner, (now + timedelta(seconds=lease_seconds)).isoformat(), task_id, runner, now.isoformat()),
    )
    return cur.rowcount == 1


def _record(row: tuple[Any, ...]) -> TaskRecord:
    return task_record(dict(zip(TASK_FIELDS, row, strict=True)), row[1] or None)  # the owner stored "" is none
