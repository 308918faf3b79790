"""The run registry: every run started or watched through runbridge, and every gate seen.

Some backends cannot list runs, show a run's status, or refuse a second resume (reference §7.2), so runbridge
keeps its own record. It is embedded SQLite (WAL, so several runbridge processes of one user can share it) and
small on purpose: a shared store can implement the same methods later for several replicas.

What runbridge learned about a run is never lost to a backend that cannot say: an `unknown` status (Synapse v1 has
no run status, so a run runbridge followed before it restarted reads `unknown` there) never replaces an end or a
wait it recorded, and a run's outputs are kept with its status.

A gate is answered at most once: `claim_gate` moves it from `open` to `answering` in one conditional UPDATE,
which is atomic across connections and processes; only the claimer may resume the run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..core.errors import GateError, InputError
from ..core.models import Gate, Page, Run, RunStatus, Usage, utc_now

__all__ = ["GateRecord", "GateState", "Registry", "RunRecord", "offset_cursor"]

GateState = Literal["open", "answering", "answered", "declined", "closed"]

_RUN_COLUMNS = "profile, run_id, target_id, status, cursor, error, usage, created_at, updated_at, outputs"
# Statuses an `unknown` never overwrites: runbridge saw the run end, or wait at a gate (which only an answer moves).
_KEPT_STATUSES = ("completed", "failed", "cancelled", "waiting")
_KEPT = "(" + ", ".join(f"'{k}'" for k in _KEPT_STATUSES) + ")"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    profile TEXT NOT NULL, run_id TEXT NOT NULL, target_id TEXT, status TEXT NOT NULL,
    cursor TEXT, error TEXT, usage TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, outputs TEXT,
    PRIMARY KEY (profile, run_id));
CREATE INDEX IF NOT EXISTS runs_by_update ON runs (profile, updated_at DESC);
CREATE TABLE IF NOT EXISTS gates (
    profile TEXT NOT NULL, gate_id TEXT NOT NULL, run_id TEXT NOT NULL, state TEXT NOT NULL,
    gate TEXT NOT NULL, opened_at TEXT NOT NULL, answered_at TEXT, decision TEXT,
    PRIMARY KEY (profile, gate_id));
CREATE INDEX IF NOT EXISTS gates_by_run ON gates (profile, run_id);
"""


@dataclass(frozen=True)
class RunRecord:
    profile: str
    run_id: str
    target_id: str | None
    status: RunStatus
    cursor: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    usage: Usage | None = None
    outputs: Any = None


@dataclass(frozen=True)
class GateRecord:
    gate: Gate
    state: GateState
    answered_at: datetime | None
    decision: str | None


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Registry:
    """SQLite-backed record of runs and gates. `path=":memory:"` keeps it in memory (tests)."""

    def __init__(self, path: str | Path) -> None:
        target = str(path)
        if target != ":memory:":
            Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = str(Path(target).expanduser())
        self._lock = threading.Lock()
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
        if "outputs" not in columns:  # a registry written by an earlier runbridge
            self._db.execute("ALTER TABLE runs ADD COLUMN outputs TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- runs ---------------------------------------------------------------------------------------------------

    def record_run(self, profile: str, run: Run) -> None:
        now = utc_now().isoformat()
        with self._lock:
            self._db.execute(
                """INSERT INTO runs (profile, run_id, target_id, status, error, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (profile, run_id) DO UPDATE SET
                     target_id = COALESCE(excluded.target_id, runs.target_id),
                     status = excluded.status, error = COALESCE(excluded.error, runs.error),
                     updated_at = excluded.updated_at""",
                (profile, run.run_id, run.target_id, run.status.value, run.error, now, now),
            )

    def update_run(
        self,
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
        used = usage.model_dump_json() if usage is not None else None
        out = _outputs_json(outputs)
        new_status = status.value if status else None
        with self._lock:
            self._db.execute(
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
                    profile,
                    run_id,
                    target_id,
                    new_status or "unknown",
                    cursor,
                    error,
                    used,
                    now,
                    now,
                    out,
                    *(target_id, new_status, new_status, cursor, error, used, out, now),
                ),
            )

    def observe_run(
        self,
        profile: str,
        run_id: str,
        *,
        status: RunStatus,
        error: str | None = None,
        usage: Usage | None = None,
        target_id: str | None = None,
        outputs: Any = None,
    ) -> RunRecord:
        """Record a run's status (and its usage and target, when the backend says) as just read from its backend,
        and return runbridge's record of the run.

        When the record already says so, nothing is written: a run read again and again without changing costs a
        read, not a write, and its `updated_at` stays when runbridge last learned something new about it (the
        list's order does not depend on it: see `list_runs`). A run first seen ended has its open gates closed:
        nobody can answer them any more."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE profile = ? AND run_id = ?",  # noqa: S608  (constant columns)
                (profile, run_id),
            ).fetchone()
        used = usage.model_dump_json() if usage is not None else None
        out = _outputs_json(outputs)
        if (
            row is not None
            and (row[3] == status.value or (status is RunStatus.UNKNOWN and row[3] in _KEPT_STATUSES))
            and (error is None or error == row[5])
            and (used is None or used == row[6])
            and (out is None or out == row[9])
            and (target_id is None or row[2] is not None)
        ):
            return self._run(row)
        self.update_run(profile, run_id, status=status, error=error, usage=usage, target_id=target_id, outputs=outputs)
        if status.terminal:
            self.close_gates(profile, run_id)
        record = self.get_run(profile, run_id)
        assert record is not None, "the run was just recorded"
        return record

    def observe(self, profile: str, run: Run) -> tuple[RunRecord, list[GateRecord]]:
        """Record a run as just read from its backend (`observe_run`, and the gate it says it waits on): runbridge's
        record of it, and the gates it waits on, oldest first (none once it ended: its gates are closed)."""
        record = self.observe_run(
            profile,
            run.run_id,
            status=run.status,
            error=run.error,
            usage=run.usage,
            target_id=run.target_id,
            outputs=run.outputs,
        )
        if run.status.terminal:
            return record, []
        if run.open_gate is not None:
            self.record_gate(profile, run.open_gate)
        return record, self.gates(profile, run_id=run.run_id)

    def get_run(self, profile: str, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE profile = ? AND run_id = ?",  # noqa: S608  (constant columns)
                (profile, run_id),
            ).fetchone()
        return self._run(row) if row else None

    def list_runs(
        self, profile: str | None, *, cursor: str | None = None, limit: int = 20, status: RunStatus | None = None
    ) -> Page[RunRecord]:
        """One profile's runs, or every profile's (`profile=None`), newest first (by when runbridge first recorded
        the run, so reading a run does not reorder the list); the cursor is an offset into that order."""
        offset = offset_cursor(cursor)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE 1 = 1"  # noqa: S608  (a constant column list)
        args: list[object] = []
        if profile is not None:
            sql += " AND profile = ?"
            args.append(profile)
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
        args += [limit + 1, offset]
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        items = [self._run(r) for r in rows[:limit]]
        return Page[RunRecord].of(items, str(offset + limit) if len(rows) > limit else None)

    def runs_since(self, profile: str | None, since: datetime) -> list[RunRecord]:
        """The runs first recorded at or after `since`, oldest first, on one profile or (None) every profile."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE created_at >= ?"  # noqa: S608  (a constant column list)
        args: list[object] = [since.astimezone(UTC).isoformat()]
        if profile is not None:
            sql += " AND profile = ?"
            args.append(profile)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at, rowid", args).fetchall()
        return [self._run(r) for r in rows]

    @staticmethod
    def _run(row: tuple[str, ...]) -> RunRecord:
        return RunRecord(
            row[0],
            row[1],
            row[2],
            RunStatus(row[3]),
            row[4],
            row[5],
            datetime.fromisoformat(row[7]),
            datetime.fromisoformat(row[8]),
            Usage.model_validate_json(row[6]) if row[6] else None,
            json.loads(row[9]) if row[9] else None,
        )

    # -- gates --------------------------------------------------------------------------------------------------

    def record_gate(self, profile: str, gate: Gate) -> bool:
        """Remember a gate (first sighting wins); True when it was new."""
        gate = gate.model_copy(update={"profile": profile})
        body = _gate_json(gate)
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO gates (profile, gate_id, run_id, state, gate, opened_at) "
                "VALUES (?, ?, ?, 'open', ?, ?)",
                (profile, gate.gate_id, gate.run_id, body, gate.opened_at.isoformat()),
            )
        return cur.rowcount == 1

    def update_gate(self, profile: str, gate: Gate) -> None:
        """Replace what a known gate shows (a quorum's vote count after a vote), keeping its state and history."""
        gate = gate.model_copy(update={"profile": profile})
        with self._lock:
            self._db.execute(
                "UPDATE gates SET gate = ? WHERE profile = ? AND gate_id = ?", (_gate_json(gate), profile, gate.gate_id)
            )

    def get_gate(self, profile: str, gate_id: str) -> GateRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT gate, state, answered_at, decision FROM gates WHERE profile = ? AND gate_id = ?",
                (profile, gate_id),
            ).fetchone()
        return self._gate(row) if row else None

    def gates(
        self, profile: str | None = None, *, run_id: str | None = None, states: tuple[GateState, ...] = ("open",)
    ) -> list[GateRecord]:
        placeholders = ",".join("?" * len(states))  # only "?" characters: the values stay bound parameters
        sql = f"SELECT gate, state, answered_at, decision FROM gates WHERE state IN ({placeholders})"  # noqa: S608
        args: list[object] = list(states)
        if profile is not None:
            sql += " AND profile = ?"
            args.append(profile)
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        sql += " ORDER BY opened_at, gate_id"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [self._gate(r) for r in rows]

    def claim_gate(self, profile: str, gate_id: str) -> Gate:
        """Take the right to answer a gate; raises `GateError` saying why when it is not open."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE gates SET state = 'answering' WHERE profile = ? AND gate_id = ? AND state = 'open'",
                (profile, gate_id),
            )
        record = self.get_gate(profile, gate_id)
        if record is None:
            raise InputError(f"Unknown gate {gate_id!r} on profile {profile!r}. Call gates_list to see open gates.")
        if cur.rowcount != 1:
            raise GateError(_closed_reason(gate_id, record))
        return record.gate

    def finish_gate(self, profile: str, gate_id: str, state: GateState, decision: str | None = None) -> None:
        """Settle a claimed gate: `answered`/`declined`, or back to `open` when the answer did not go through."""
        answered = utc_now().isoformat() if state in ("answered", "declined") else None
        with self._lock:
            self._db.execute(
                "UPDATE gates SET state = ?, answered_at = ?, decision = ? WHERE profile = ? AND gate_id = ?",
                (state, answered, decision, profile, gate_id),
            )

    def close_gates(self, profile: str, run_id: str, *, keep: str | None = None) -> None:
        """A run ended (or moved past its gates): its open gates can no longer be answered."""
        with self._lock:
            self._db.execute(
                "UPDATE gates SET state = 'closed' WHERE profile = ? AND run_id = ? AND state = 'open' "
                "AND gate_id IS NOT ?",
                (profile, run_id, keep),
            )

    @staticmethod
    def _gate(row: tuple[str, str, str | None, str | None]) -> GateRecord:
        gate = Gate.model_validate_json(row[0])
        return GateRecord(gate=gate, state=row[1], answered_at=_ts(row[2]), decision=row[3])  # type: ignore[arg-type]


def _outputs_json(outputs: Any) -> str | None:
    """A run's outputs as stored (None: nothing new to store); what JSON cannot hold is kept as its text."""
    return None if outputs is None else json.dumps(outputs, ensure_ascii=False, default=str)


def _gate_json(gate: Gate) -> str:
    """The gate with its adapter-private `resume` notes (excluded from normal dumps, needed to answer later)."""
    doc = gate.model_dump(mode="json")
    doc["resume"] = gate.resume
    return json.dumps(doc)


def _closed_reason(gate_id: str, record: GateRecord) -> str:
    match record.state:
        case "answering":
            return f"Gate {gate_id} is being answered right now; it cannot be answered twice."
        case "answered" | "declined":
            when = record.answered_at.isoformat(timespec="seconds") if record.answered_at else "earlier"
            return f"Gate {gate_id} was already {record.state} ({record.decision or 'no detail'}) at {when}."
        case _:
            return f"Gate {gate_id} is closed: its run has moved on or ended."


def offset_cursor(cursor: str | None) -> int:
    """The offset an opaque page cursor stands for (cursors are offsets into a stable order); an empty cursor is
    none. Anything else raises `CursorError`: restarting silently would show the caller the same items again."""
    return Page[object].start_of(cursor)
