"""The SQLite store's follow leases: which process follows a run in the background, until when.

Blocking functions on one connection; `SqliteStore` runs them off the event loop, one at a time. A claim reads and
writes in one `BEGIN IMMEDIATE` transaction, so two processes sharing the file never both win it.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from ..core.models import utc_now
from .store import FollowLease

__all__ = ["FOLLOWS_SCHEMA", "claim_follow", "release_follow"]

# Created when a state file is opened: a file written by a runbridge from before follow leases gains the table then.
FOLLOWS_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS follows (
    profile TEXT NOT NULL, run_id TEXT NOT NULL, owner TEXT NOT NULL, lease_until TEXT NOT NULL,
    PRIMARY KEY (profile, run_id)) WITHOUT ROWID""",
)


def claim_follow(
    db: sqlite3.Connection, profile: str, run_id: str, owner: str, lease_seconds: float
) -> FollowLease | None:
    now = utc_now()
    until = now + timedelta(seconds=lease_seconds)
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute(
            "SELECT owner, lease_until FROM follows WHERE profile = ? AND run_id = ?", (profile, run_id)
        ).fetchone()
        if row is not None and row[0] != owner and datetime.fromisoformat(row[1]) >= now:
            db.execute("ROLLBACK")
            return None
        db.execute(
            "INSERT OR REPLACE INTO follows (profile, run_id, owner, lease_until) VALUES (?, ?, ?, ?)",
            (profile, run_id, owner, until.isoformat()),
        )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    taken_from = row[0] if row is not None and row[0] != owner else None
    return FollowLease(until=until, taken_from=taken_from)


def release_follow(db: sqlite3.Connection, profile: str, run_id: str, owner: str) -> None:
    db.execute("DELETE FROM follows WHERE profile = ? AND run_id = ? AND owner = ?", (profile, run_id, owner))
