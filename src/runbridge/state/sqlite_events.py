"""The SQLite store's events: each run's events in order of arrival, once per `seq`, bounded to the newest
`EVENTS_KEPT` events or `EVENT_BYTES_KEPT` bytes (whichever is fewer), with the number cut remembered.

Blocking functions on one connection; `SqliteStore` runs them off the event loop, one at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..core.errors import CursorError
from ..core.models import RunEvent
from .store import EVENT_BYTES_KEPT, EVENTS_KEPT, StoredEvents

__all__ = ["append_events", "events"]


def append_events(db: sqlite3.Connection, profile: str, run_id: str, batch: Sequence[RunEvent]) -> None:
    """Add the events not stored yet (by `seq`), then cut the oldest beyond the bound; one transaction."""
    if not batch:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute(
            "SELECT kept, bytes, cut, next_n FROM event_counts WHERE profile = ? AND run_id = ?", (profile, run_id)
        ).fetchone()
        kept, size, cut, n = row if row else (0, 0, 0, 0)
        for event in batch:
            body = event.model_dump_json()
            length = len(body.encode())
            added = db.execute(
                "INSERT OR IGNORE INTO events (profile, run_id, n, seq, size, body) VALUES (?, ?, ?, ?, ?, ?)",
                (profile, run_id, n, event.seq, length, body),
            ).rowcount
            if added:
                kept, size, n = kept + 1, size + length, n + 1
        if kept > EVENTS_KEPT or size > EVENT_BYTES_KEPT:
            dropped, freed = _cut_oldest(db, profile, run_id, kept, size)
            kept, size, cut = kept - dropped, size - freed, cut + dropped
        db.execute(
            "INSERT OR REPLACE INTO event_counts (profile, run_id, kept, bytes, cut, next_n) VALUES (?, ?, ?, ?, ?, ?)",
            (profile, run_id, kept, size, cut, n),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _cut_oldest(db: sqlite3.Connection, profile: str, run_id: str, kept: int, size: int) -> tuple[int, int]:
    """Delete the oldest events until the rest is within the bound; how many, and their bytes."""
    dropped = freed = 0
    last = -1
    for n, length in db.execute(
        "SELECT n, size FROM events WHERE profile = ? AND run_id = ? ORDER BY n", (profile, run_id)
    ):
        if kept - dropped <= EVENTS_KEPT and size - freed <= EVENT_BYTES_KEPT:
            break
        dropped, freed, last = dropped + 1, freed + length, n
    db.execute("DELETE FROM events WHERE profile = ? AND run_id = ? AND n <= ?", (profile, run_id, last))
    return dropped, freed


def events(db: sqlite3.Connection, profile: str, run_id: str, after: str | None, limit: int) -> StoredEvents:
    """Up to `limit` events after the one whose seq is `after` (None: from the oldest kept). An `after` that is not
    among the kept events raises `CursorError`: going on from elsewhere would repeat or skip events."""
    start = 0
    if after is not None:
        found = db.execute(
            "SELECT n FROM events WHERE profile = ? AND run_id = ? AND seq = ?", (profile, run_id, after)
        ).fetchone()
        if found is None:
            raise CursorError(after)
        start = found[0] + 1
    rows = db.execute(
        "SELECT seq, body FROM events WHERE profile = ? AND run_id = ? AND n >= ? ORDER BY n LIMIT ?",
        (profile, run_id, start, limit + 1),
    ).fetchall()
    page = rows[:limit]
    counted = db.execute("SELECT cut FROM event_counts WHERE profile = ? AND run_id = ?", (profile, run_id)).fetchone()
    return StoredEvents(
        events=[RunEvent.model_validate_json(body) for _, body in page],
        next_after=page[-1][0] if len(rows) > limit else None,
        cut=counted[0] if counted else 0,
    )
