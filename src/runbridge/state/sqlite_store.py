"""`SqliteStore`: the run store in an embedded SQLite file, shared by the runbridge processes of one user.

SQLite blocks: a query reads the disk, and a write may wait up to 5 s for another process's lock. So every call
runs in a worker thread, one at a time per store (a capacity limiter of one, as the connection is shared), and the
event loop goes on serving other sessions meanwhile. A call that is cancelled still finishes its statement first,
so nothing is left half-written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ..core.errors import RunbridgeError
from ..core.models import Gate, Page, Run, RunEvent, RunStatus, Usage
from . import sqlite_events, sqlite_follows, sqlite_gates, sqlite_runs, sqlite_tasks, sqlite_usage
from .records import run_record, seen_of, unchanged
from .sqlite_schema import connect
from .store import (
    FollowLease,
    GateRecord,
    GateState,
    RunRecord,
    StoredEvents,
    TaskRecord,
    TaskStatus,
    UsageKey,
    UsageSums,
    claim_owner,
)

__all__ = ["SqliteStore"]

T = TypeVar("T")


class SqliteStore:
    """The `RunStore` in SQLite. `path=":memory:"` keeps it in memory (tests)."""

    def __init__(self, path: str | Path, *, owner: str | None = None, busy_seconds: float = 5.0) -> None:
        """`owner`: who this store's gate claims belong to (default: this process, `claim_owner()`);
        `busy_seconds`: how long a write waits for another process's lock before it fails."""
        self._db = connect(path, busy_seconds=busy_seconds)
        self._limiter = anyio.CapacityLimiter(1)
        self._owner = owner or claim_owner()

    @property
    def owner(self) -> str:
        return self._owner

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(partial(fn, self._db, *args, **kwargs), limiter=self._limiter)
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, a full disk, a file gone
            raise RunbridgeError(
                f"runbridge's run store could not be used ({exc}): another runbridge process may be holding it, or "
                "its disk is full. Try again in a moment"
            ) from None

    async def aclose(self) -> None:
        await self._run(sqlite3.Connection.close)

    def close(self) -> None:
        """Close from outside an event loop (start-up checks, tests)."""
        self._db.close()

    # -- runs ---------------------------------------------------------------------------------------------------

    async def record_run(
        self, profile: str, run: Run, *, locator: dict[str, str] | None = None, user: str | None = None
    ) -> None:
        await self._run(sqlite_runs.record_run, profile, run, locator, user)

    async def update_run(
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
        await self._run(
            sqlite_runs.update_run,
            profile,
            run_id,
            status=status,
            cursor=cursor,
            error=error,
            usage=usage,
            target_id=target_id,
            outputs=outputs,
        )

    async def observe_run(
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
        read, not a write, and its `updated_at` stays when runbridge last learned something new about it. A run
        first seen ended has its open gates closed: nobody can answer them any more."""
        seen = {"error": error, "usage": usage, "target_id": target_id, "outputs": outputs}
        return await self._run(_observe_run, profile, run_id, status, seen)

    async def observe(self, profile: str, run: Run) -> tuple[RunRecord, list[GateRecord]]:
        """Record a run as just read from its backend (`observe_run`, and the gate it says it waits on): runbridge's
        record of it, and the gates it waits on, oldest first (none once it ended: its gates are closed)."""
        return await self._run(_observe, profile, run)

    async def get_run(self, profile: str, run_id: str) -> RunRecord | None:
        return await self._run(sqlite_runs.get_run, profile, run_id)

    async def list_runs(
        self,
        profile: str | None,
        *,
        cursor: str | None = None,
        limit: int = 20,
        status: RunStatus | None = None,
        user: str | None = None,
    ) -> Page[RunRecord]:
        """One profile's runs, or every profile's (`profile=None`), newest first (by when runbridge first recorded
        the run, so reading a run does not reorder the list)."""
        return await self._run(sqlite_runs.list_runs, profile, cursor, limit, status, user)

    async def runs_since(self, profile: str | None, since: datetime) -> list[RunRecord]:
        """The runs first recorded at or after `since`, oldest first, on one profile or (None) every profile."""
        return await self._run(sqlite_runs.runs_since, profile, since)

    async def usage_sums(self, profile: str | None, since: datetime, group_by: UsageKey) -> list[UsageSums]:
        """The usage of the runs first recorded at or after `since`, summed per `group_by` key."""
        return await self._run(sqlite_usage.usage_sums, profile, since, group_by)

    async def set_locator(self, profile: str, run_id: str, locator: dict[str, str]) -> bool:
        """Merge `locator`'s keys into the run's; False (and nothing recorded) when the run is not recorded."""
        return await self._run(sqlite_runs.set_locator, profile, run_id, locator)

    # -- gates --------------------------------------------------------------------------------------------------

    async def record_gate(self, profile: str, gate: Gate) -> bool:
        """Remember a gate (first sighting wins); True when it was new."""
        return await self._run(sqlite_gates.record_gate, profile, gate)

    async def update_gate(self, profile: str, gate: Gate) -> None:
        """Replace what a known gate shows (a quorum's vote count after a vote), keeping its state and history."""
        await self._run(sqlite_gates.update_gate, profile, gate)

    async def get_gate(self, profile: str, gate_id: str) -> GateRecord | None:
        return await self._run(sqlite_gates.get_gate, profile, gate_id)

    async def gates(
        self, profile: str | None = None, *, run_id: str | None = None, states: tuple[GateState, ...] = ("open",)
    ) -> list[GateRecord]:
        """Every matching gate, oldest first."""
        page = await self._run(sqlite_gates.gates, profile, run_id, states, None, None)
        return page.items

    async def gates_page(
        self,
        profile: str | None = None,
        *,
        run_id: str | None = None,
        states: tuple[GateState, ...] = ("open",),
        cursor: str | None = None,
        limit: int = 20,
        user: str | None = None,
    ) -> Page[GateRecord]:
        """A page of the matching gates, oldest first."""
        return await self._run(sqlite_gates.gates, profile, run_id, states, cursor, limit, user)

    async def claim_gate(self, profile: str, gate_id: str, *, lease_seconds: float = 120.0) -> Gate:
        """Take the right to answer a gate for `lease_seconds`; raises `GateError` saying why when it is not open."""
        return await self._run(sqlite_gates.claim_gate, profile, gate_id, self._owner, lease_seconds)

    async def finish_gate(self, profile: str, gate_id: str, state: GateState, decision: str | None = None) -> None:
        """Settle a claimed gate: `answered`/`declined`, or back to `open` when the answer did not go through."""
        await self._run(sqlite_gates.finish_gate, profile, gate_id, self._owner, state, decision)

    async def close_gates(self, profile: str, run_id: str, *, keep: str | None = None) -> None:
        """A run ended (or moved past its gates): its open gates can no longer be answered."""
        await self._run(sqlite_gates.close_gates, profile, run_id, keep)

    async def stale_claims(self, profile: str | None = None) -> list[GateRecord]:
        """Claims whose lease lapsed, or whose owner was a process on this host that is gone."""
        return await self._run(sqlite_gates.stale_claims, profile, self._owner)

    async def take_over(self, profile: str, gate_id: str, *, lease_seconds: float = 120.0) -> GateRecord | None:
        """Move a stale claim to this process; None when it is not stale or another process took it first."""
        return await self._run(sqlite_gates.take_over, profile, gate_id, self._owner, lease_seconds)

    # -- events -------------------------------------------------------------------------------------------------

    async def append_events(self, profile: str, run_id: str, events: Sequence[RunEvent]) -> None:
        await self._run(sqlite_events.append_events, profile, run_id, list(events))

    async def events(self, profile: str, run_id: str, *, after: str | None = None, limit: int = 100) -> StoredEvents:
        return await self._run(sqlite_events.events, profile, run_id, after, limit)

    # -- tasks --------------------------------------------------------------------------------------------------

    async def record_task(self, task: TaskRecord) -> None:
        await self._run(sqlite_tasks.record_task, task)

    async def get_task(self, task_id: str) -> TaskRecord | None:
        return await self._run(sqlite_tasks.get_task, task_id)

    async def update_task(
        self,
        task_id: str,
        *,
        status: TaskStatus | None = None,
        status_message: str | None = None,
        gate_id: str | None = None,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> TaskRecord | None:
        return await self._run(
            sqlite_tasks.update_task,
            task_id,
            status=status,
            status_message=status_message,
            gate_id=gate_id,
            result=result,
            error=error,
        )

    async def list_tasks(self, owner: str | None, *, cursor: str | None = None, limit: int = 20) -> Page[TaskRecord]:
        return await self._run(sqlite_tasks.list_tasks, owner, cursor=cursor, limit=limit)

    async def tasks_of_run(self, profile: str, run_id: str) -> list[TaskRecord]:
        return await self._run(sqlite_tasks.tasks_of_run, profile, run_id)

    async def claim_task(self, task_id: str, *, lease_seconds: float) -> bool:
        return await self._run(sqlite_tasks.claim_task, task_id, self._owner, lease_seconds)

    # -- follow leases ------------------------------------------------------------------------------------------

    async def claim_follow(self, profile: str, run_id: str, *, lease_seconds: float) -> FollowLease | None:
        return await self._run(sqlite_follows.claim_follow, profile, run_id, self._owner, lease_seconds)

    async def release_follow(self, profile: str, run_id: str) -> None:
        await self._run(sqlite_follows.release_follow, profile, run_id, self._owner)


def _observe_run(
    db: sqlite3.Connection, profile: str, run_id: str, status: RunStatus, seen: dict[str, Any]
) -> RunRecord:
    stored = sqlite_runs.get_stored(db, profile, run_id)
    if stored is not None and unchanged(stored, status, **seen):
        return run_record(stored)
    sqlite_runs.update_run(db, profile, run_id, status=status, **seen)
    if status.terminal:
        sqlite_gates.close_gates(db, profile, run_id, None)
    record = sqlite_runs.get_run(db, profile, run_id)
    assert record is not None, "the run was just recorded"
    return record


def _observe(db: sqlite3.Connection, profile: str, run: Run) -> tuple[RunRecord, list[GateRecord]]:
    record = _observe_run(db, profile, run.run_id, run.status, seen_of(run))
    if run.status.terminal:
        return record, []
    if run.open_gate is not None:
        sqlite_gates.record_gate(db, profile, run.open_gate)
    return record, sqlite_gates.gates(db, profile, run.run_id, ("open",), None, None).items
