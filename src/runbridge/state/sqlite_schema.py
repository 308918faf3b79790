"""The SQLite store's file: opened private, its tables and indexes, and the columns a state file written by an
earlier runbridge gains when opened.

The file holds every run's outputs and events, so it and its WAL and shared-memory files are the user's alone
(0600, in a 0700 directory when runbridge creates it), whatever `state_path` says. SQLite gives the WAL and
shared-memory files the database file's mode, so creating that file 0600 first is enough; one found wider (written
by an earlier runbridge) is narrowed.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from .sqlite_follows import FOLLOWS_SCHEMA
from .sqlite_tasks import TASKS_SCHEMA
from .sqlite_usage import USAGE_SCHEMA, fill_usage_days

__all__ = ["connect"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    profile TEXT NOT NULL, run_id TEXT NOT NULL, target_id TEXT, status TEXT NOT NULL,
    cursor TEXT, error TEXT, usage TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, outputs TEXT,
    locator TEXT, started_by TEXT,
    PRIMARY KEY (profile, run_id));
CREATE TABLE IF NOT EXISTS gates (
    profile TEXT NOT NULL, gate_id TEXT NOT NULL, run_id TEXT NOT NULL, state TEXT NOT NULL,
    gate TEXT NOT NULL, opened_at TEXT NOT NULL, answered_at TEXT, decision TEXT, owner TEXT, lease_until TEXT,
    PRIMARY KEY (profile, gate_id));
CREATE TABLE IF NOT EXISTS events (
    profile TEXT NOT NULL, run_id TEXT NOT NULL, n INTEGER NOT NULL, seq TEXT NOT NULL, size INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (profile, run_id, n), UNIQUE (profile, run_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_counts (
    profile TEXT NOT NULL, run_id TEXT NOT NULL, kept INTEGER NOT NULL, bytes INTEGER NOT NULL,
    cut INTEGER NOT NULL, next_n INTEGER NOT NULL,
    PRIMARY KEY (profile, run_id)) WITHOUT ROWID;
"""
# Each list query reads its page straight off one of these, in order (tests/unit/test_sqlite_store_file.py).
_INDEXES = """
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (profile, created_at);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (profile, status, created_at);
CREATE INDEX IF NOT EXISTS runs_all_by_created ON runs (created_at);
CREATE INDEX IF NOT EXISTS runs_all_by_status ON runs (status, created_at);
CREATE INDEX IF NOT EXISTS gates_by_state ON gates (profile, state, opened_at, gate_id);
CREATE INDEX IF NOT EXISTS gates_all_by_state ON gates (state, opened_at, gate_id);
CREATE INDEX IF NOT EXISTS gates_by_opened ON gates (profile, opened_at, gate_id);
CREATE INDEX IF NOT EXISTS gates_all_by_opened ON gates (opened_at, gate_id);
DROP INDEX IF EXISTS gates_by_run;
CREATE INDEX IF NOT EXISTS gates_of_run ON gates (profile, run_id, opened_at, gate_id);
CREATE INDEX IF NOT EXISTS gates_claimed ON gates (profile) WHERE state = 'answering';
DROP INDEX IF EXISTS runs_by_update;
"""
# Columns added since the first runbridge: a state file written before gains them (empty) when opened.
_ADDED = {"runs": ("outputs", "locator", "started_by"), "gates": ("owner", "lease_until")}


def connect(path: str | Path, *, busy_seconds: float = 5.0) -> sqlite3.Connection:
    """The store's connection (WAL, so several runbridge processes of one user can share the file); `":memory:"`
    keeps it in memory. A write waits up to `busy_seconds` for another process's lock."""
    target = str(path)
    if target != ":memory:":
        file = Path(target).expanduser()
        _private_file(file)
        target = str(file)
    db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=busy_seconds)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE")  # one process sets the file up; another opening it at once waits, then sees it
        try:
            _set_up(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    except BaseException:
        db.close()
        raise
    if target != ":memory:":
        for suffix in ("-wal", "-shm"):  # created by SQLite with the database's mode; narrowed if found wider
            _narrow(Path(target + suffix))
    return db


def _set_up(db: sqlite3.Connection) -> None:
    """Create what is missing: tables, the columns and sums a file from an earlier runbridge lacks, and indexes."""
    summed = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'usage_days'").fetchone() is not None
    for statement in _statements(_SCHEMA):
        db.execute(statement)
    for table, columns in _ADDED.items():
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for column in columns:
            if column not in present:  # a state file written by an earlier runbridge
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
    for statement in _statements(_INDEXES):
        db.execute(statement)
    for statement in TASKS_SCHEMA:  # new, or a file from a runbridge before tasks: the table is made here
        db.execute(statement)
    for statement in FOLLOWS_SCHEMA:  # likewise for follow leases
        db.execute(statement)
    if not summed:  # new, or written by a runbridge from before usage was summed as runs are written
        for statement in USAGE_SCHEMA:
            db.execute(statement)
        fill_usage_days(db)


def _statements(script: str) -> list[str]:
    return [statement for statement in script.split(";") if statement.strip()]


def _private_file(file: Path) -> None:
    """Create the database file 0600 (its directory 0700 when new) before SQLite opens it, or narrow it."""
    if not file.parent.exists():
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        _narrow(file)


def _narrow(file: Path) -> None:
    """Make `file` (if any, and if this user's) readable by its owner only."""
    try:
        mode = file.stat().st_mode
        if stat.S_ISREG(mode) and mode & 0o077:
            file.chmod(0o600)
    except OSError:
        pass  # gone, or another user's: SQLite reports what it cannot open
