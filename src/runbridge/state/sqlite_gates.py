"""The SQLite store's gates: recorded at first sighting, listed a page at a time off an index, and answered at most
once through a claim that is a lease (an owner and an expiry), so a claim whose process died can be taken back by
exactly one other.

Blocking functions on one connection; `SqliteStore` runs them off the event loop, one at a time.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any, get_args

from ..core.errors import GateError, InputError
from ..core.models import Gate, Page, utc_now
from .cursors import decode_cursor, encode_cursor
from .records import GATE_FIELDS, claim_taken_over, gate_json, gate_record, stale_for
from .store import GateRecord, GateState, closed_reason

__all__ = [
    "claim_gate",
    "close_gates",
    "finish_gate",
    "gates",
    "get_gate",
    "record_gate",
    "stale_claims",
    "take_over",
    "update_gate",
]

_COLUMNS = ", ".join(GATE_FIELDS)
_ALL_STATES: frozenset[str] = frozenset(get_args(GateState))


def record_gate(db: sqlite3.Connection, profile: str, gate: Gate) -> bool:
    """Remember a gate (first sighting wins); True when it was new."""
    gate = gate.model_copy(update={"profile": profile})
    cur = db.execute(
        "INSERT OR IGNORE INTO gates (profile, gate_id, run_id, state, gate, opened_at) VALUES (?, ?, ?, 'open', ?, ?)",
        (profile, gate.gate_id, gate.run_id, gate_json(gate), gate.opened_at.isoformat()),
    )
    return cur.rowcount == 1


def update_gate(db: sqlite3.Connection, profile: str, gate: Gate) -> None:
    """Replace what a known gate shows (a quorum's vote count after a vote), keeping its state and history."""
    gate = gate.model_copy(update={"profile": profile})
    db.execute("UPDATE gates SET gate = ? WHERE profile = ? AND gate_id = ?", (gate_json(gate), profile, gate.gate_id))


def get_gate(db: sqlite3.Connection, profile: str, gate_id: str) -> GateRecord | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM gates WHERE profile = ? AND gate_id = ?",  # noqa: S608  (constant columns)
        (profile, gate_id),
    ).fetchone()
    return _record(row) if row else None


def gates(
    db: sqlite3.Connection,
    profile: str | None,
    run_id: str | None,
    states: tuple[GateState, ...],
    cursor: str | None,
    limit: int | None,
    user: str | None = None,
) -> Page[GateRecord]:
    """Oldest first, from just after the cursor's gate; every matching gate when `limit` is None; with `user`, only
    the gates of the runs that user started. Read off
    `gates_by_state` (one state), `gates_by_opened` (every state) or `gates_of_run`."""
    sql = f"SELECT {_COLUMNS}, opened_at, gate_id FROM gates WHERE 1 = 1"  # noqa: S608  (constant columns)
    args: list[object] = []
    if profile is not None:
        sql += " AND profile = ?"
        args.append(profile)
    if run_id is not None:
        sql += " AND run_id = ?"
        args.append(run_id)
    if not set(states) >= _ALL_STATES:
        sql += f" AND state IN ({','.join('?' * len(states))})"  # only "?" characters: the values stay bound
        args += states
    if user is not None:
        sql += (
            " AND EXISTS (SELECT 1 FROM runs WHERE runs.profile = gates.profile AND runs.run_id = gates.run_id"
            " AND runs.started_by = ?)"
        )
        args.append(user)
    if cursor:
        sql += " AND (opened_at, gate_id) > (?, ?)"
        args += decode_cursor(cursor, (str, str))
    sql += " ORDER BY opened_at, gate_id"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit + 1)
    rows = db.execute(sql, args).fetchall()
    page = rows if limit is None else rows[:limit]
    more = encode_cursor(page[-1][-2], page[-1][-1]) if limit is not None and len(rows) > limit else None
    return Page[GateRecord].of([_record(r) for r in page], more)


def claim_gate(db: sqlite3.Connection, profile: str, gate_id: str, owner: str, lease_seconds: float) -> Gate:
    """Take the right to answer a gate, until `lease_seconds` from now; raises `GateError` saying why when it is not
    open. One conditional UPDATE: atomic across connections and processes."""
    until = (utc_now() + timedelta(seconds=lease_seconds)).isoformat()
    cur = db.execute(
        "UPDATE gates SET state = 'answering', owner = ?, lease_until = ? "
        "WHERE profile = ? AND gate_id = ? AND state = 'open'",
        (owner, until, profile, gate_id),
    )
    record = get_gate(db, profile, gate_id)
    if record is None:
        raise InputError(f"Unknown gate {gate_id!r} on profile {profile!r}. Call gates_list to see open gates.")
    if cur.rowcount != 1:
        raise GateError(closed_reason(gate_id, record))
    return record.gate


def finish_gate(
    db: sqlite3.Connection, profile: str, gate_id: str, owner: str, state: GateState, decision: str | None
) -> None:
    """Settle a claimed gate: `answered`/`declined`, or back to `open` when the answer did not go through. A claim
    another process took over (this one's lease lapsed) is theirs to settle."""
    answered = utc_now().isoformat() if state in ("answered", "declined") else None
    db.execute(
        "UPDATE gates SET state = ?, answered_at = ?, decision = ?, owner = NULL, lease_until = NULL "
        "WHERE profile = ? AND gate_id = ? AND (owner IS NULL OR owner = ?)",
        (state, answered, decision, profile, gate_id, owner),
    )


def close_gates(db: sqlite3.Connection, profile: str, run_id: str, keep: str | None) -> None:
    """A run ended (or moved past its gates): its open gates can no longer be answered."""
    db.execute(
        "UPDATE gates SET state = 'closed' WHERE profile = ? AND run_id = ? AND state = 'open' AND gate_id IS NOT ?",
        (profile, run_id, keep),
    )


def stale_claims(db: sqlite3.Connection, profile: str | None, owner: str) -> list[GateRecord]:
    """`answering` gates whose lease lapsed, or whose owner was a process on this host that is gone."""
    sql = f"SELECT {_COLUMNS} FROM gates WHERE state = 'answering'"  # noqa: S608  (constant columns; `gates_claimed`)
    args: list[object] = []
    if profile is not None:
        sql += " AND profile = ?"
        args.append(profile)
    now = utc_now()
    return [r for r in map(_record, db.execute(sql, args)) if stale_for(r, owner, now)]


def take_over(
    db: sqlite3.Connection, profile: str, gate_id: str, owner: str, lease_seconds: float
) -> GateRecord | None:
    """Move a stale claim to `owner`; None when it is not stale (any more) or another process took it first (the
    UPDATE only matches the claim as it was read, so exactly one taker wins)."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM gates WHERE profile = ? AND gate_id = ?",  # noqa: S608  (constant columns)
        (profile, gate_id),
    ).fetchone()
    taken = claim_taken_over(_record(row) if row else None, owner, lease_seconds)
    if taken is None or taken.lease_until is None:
        return None
    cur = db.execute(
        "UPDATE gates SET owner = ?, lease_until = ? WHERE profile = ? AND gate_id = ? AND state = 'answering' "
        "AND owner IS ? AND lease_until IS ?",
        (owner, taken.lease_until.isoformat(), profile, gate_id, row[4], row[5]),
    )
    return taken if cur.rowcount == 1 else None


def _record(row: tuple[Any, ...]) -> GateRecord:
    """A row whose first columns are `_COLUMNS` (what follows them is left out)."""
    return gate_record(dict(zip(GATE_FIELDS, row, strict=False)))
