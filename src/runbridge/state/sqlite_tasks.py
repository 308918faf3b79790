"""The SQLite store's tasks: an MCP task bound to a run, stored with it, moving forward only, followed by one process
at a time (a lease, like a gate's claim), and gone from reads once past its ttl.

Blocking functions on one connection; `SqliteStore` runs them off the event loop, one at a time.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any, cast

from ..core.errors import InputError
from ..core.models import Page, utc_now
from .cursors import decode_cursor, encode_cursor
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

_COLUMNS = (
    "task_id, owner, profile, run_id, tool, status, status_message, gate_id, result, error, created_at, "
    "updated_at, ttl_ms, poll_ms, runner, runner_until"
)
_ENDS = "('completed', 'failed', 'cancelled')"
_NO_OWNER = ""  # stored for a task made without an identity (a column in an index is never NULL here)


def record_task(db: sqlite3.Connection, task: TaskRecord) -> None:
    if (
        db.execute("SELECT 1 FROM runs WHERE profile = ? AND run_id = ?", (task.profile, task.run_id)).fetchone()
        is None
    ):
        raise InputError(f"Run {task.run_id!r} is not recorded on profile {task.profile!r}: a task needs its run.")
    expires = task.created_at + timedelta(milliseconds=task.ttl_ms) if task.ttl_ms is not None else None
    # Tasks past their ttl are gone from every read; their rows go as new tasks are made.
    db.execute("DELETE FROM tasks WHERE expires_at IS NOT NULL AND expires_at <= ?", (utc_now().isoformat(),))
    db.execute(
        f"INSERT INTO tasks ({_COLUMNS}, expires_at) VALUES ({', '.join('?' * 17)})",  # noqa: S608  (constant)
        (
            task.task_id,
            task.owner or _NO_OWNER,
            task.profile,
            task.run_id,
            task.tool,
            task.status,
            task.status_message,
            task.gate_id,
            _json(task.result),
            _json(task.error),
            task.created_at.isoformat(),
            task.updated_at.isoformat(),
            task.ttl_ms,
            task.poll_ms,
            task.runner,
            task.runner_until.isoformat() if task.runner_until else None,
            expires.isoformat() if expires else None,
        ),
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
        (status, status_message, status, gate_id, _json(result), _json(error), now, task_id),
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
    items = [_record(row) for row in rows[:limit]]
    last = items[-1] if items and len(rows) > limit else None
    return Page(items=items, next_cursor=encode_cursor(last.created_at.isoformat(), last.task_id) if last else None)


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


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else cast(dict[str, Any], json.loads(text))


def _record(row: tuple[Any, ...]) -> TaskRecord:
    (task_id, owner, profile, run_id, tool, status, message, gate_id, result, error, created, updated, ttl, poll,
     runner, runner_until) = row  # fmt: skip
    return TaskRecord(
        task_id=task_id,
        owner=owner or None,
        profile=profile,
        run_id=run_id,
        tool=tool,
        status=status,
        status_message=message,
        gate_id=gate_id,
        result=_loads(result),
        error=_loads(error),
        created_at=datetime.fromisoformat(created),
        updated_at=datetime.fromisoformat(updated),
        ttl_ms=ttl,
        poll_ms=poll,
        runner=runner,
        runner_until=datetime.fromisoformat(runner_until) if runner_until else None,
    )


_ = TASK_ENDS  # the statuses `_ENDS` spells out in SQL
