"""The run store: what runbridge keeps of every run started or watched through it, and every gate seen.

Some backends cannot list runs, show a run's status, or refuse a second resume, so runbridge keeps its own record.
`RunStore` is what every caller relies on; `SqliteStore` (embedded SQLite, shared by the processes of one user) is
the default and `RedisStore` (a Redis server shared by several runbridge servers) the other, and both pass the same
contract tests (tests/unit/test_run_store_contract*.py), as any other must.

Every method is async: a store may wait on a disk, a lock held by another process or a network, and none of that
may hold up the server's other sessions.

The guarantees:
- A status only moves forward: an `unknown` (a backend that cannot say) never replaces an end or a wait the store
  recorded, and an ended run keeps its outputs, error and usage.
- A gate is answered at most once: `claim_gate` moves it from `open` to `answering` atomically, as a lease with an
  owner and an expiry; a lease whose owner died (`stale_claims`) is taken over by one process only (`take_over`).
- A run's events are kept with it, bounded (the newest `EVENTS_KEPT` events or `EVENT_BYTES_KEPT` bytes), and the
  number cut is remembered.
- A task (an MCP task bound to a run, `TaskRecord`) exists only with its run, and once it has ended (completed,
  failed, cancelled) it never changes again; one process at a time follows it (`claim_task`, a lease).
- A run followed in the background (for subscribers, or a stream only one process can read) is followed by one
  process at a time: `claim_follow` is a lease, renewed by its holder only; once it lapses (its holder died) one
  process takes it over and learns whose it was; `release_follow` gives it up.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from ..core.models import Gate, Page, Run, RunEvent, RunStatus, Usage

__all__ = [
    "EVENTS_KEPT",
    "EVENT_BYTES_KEPT",
    "KEPT_STATUSES",
    "TASK_ENDS",
    "FollowLease",
    "GateRecord",
    "GateState",
    "RunRecord",
    "RunStore",
    "StoredEvents",
    "TaskRecord",
    "TaskStatus",
    "UsageKey",
    "UsageSums",
    "claim_owner",
    "closed_reason",
]

GateState = Literal["open", "answering", "answered", "declined", "closed"]
TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TASK_ENDS: tuple[TaskStatus, ...] = ("completed", "failed", "cancelled")  # a task in one of these never changes
UsageKey = Literal["target", "profile", "day", "status"]  # what `usage_sums` groups runs by

# Statuses an `unknown` never overwrites: runbridge saw the run end, or wait at a gate (which only an answer moves).
KEPT_STATUSES = ("completed", "failed", "cancelled", "waiting")
EVENTS_KEPT = 10_000  # per run: the newest this many events...
EVENT_BYTES_KEPT = 5 * 1024 * 1024  # ...or this many bytes of them, whichever is fewer


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
    locator: dict[str, str] | None = None  # what the run's adapter needs to find it again (thread id, events URL...)
    user: str | None = None  # who started it (an authenticated user, `server.auth`); None: whoever reaches runbridge


@dataclass(frozen=True)
class GateRecord:
    gate: Gate
    state: GateState
    answered_at: datetime | None
    decision: str | None
    owner: str | None = None  # the process answering it (`claim_owner`), while `answering`
    lease_until: datetime | None = None  # when that claim lapses unless finished


@dataclass(frozen=True)
class TaskRecord:
    """An MCP task bound to one run. `owner`: the client identity that made it (None where the transport gives
    none); `gate_id`: the gate it waits on while `input_required`; `result`: the tool's result (a `CallToolResult`
    on the wire) once completed, or the run's end when it failed or was cancelled; `error` a JSON-RPC error
    (`code`, `message`) when it failed without a result. `runner`/`runner_until`: the process following it, and
    until when its lease holds."""

    task_id: str
    profile: str
    run_id: str
    tool: str
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    ttl_ms: int | None
    poll_ms: int
    owner: str | None = None
    status_message: str | None = None
    gate_id: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    runner: str | None = None
    runner_until: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.status in TASK_ENDS


@dataclass(frozen=True)
class FollowLease:
    """This process follows a run in the background until `until` (unless it renews the lease). `taken_from`: the
    process whose lease had lapsed when this one took it (it died, or stopped without giving it up); None when
    nobody held it, or this process already did."""

    until: datetime
    taken_from: str | None = None


@dataclass(frozen=True)
class StoredEvents:
    """A page of a run's stored events: `next_after` continues it (None: nothing newer is stored yet), `cut` is how
    many older events the bound dropped."""

    events: list[RunEvent]
    next_after: str | None
    cut: int


@dataclass(frozen=True)
class UsageSums:
    """The runs of one group (`key`: a target, None for runs with no target recorded; a profile; a UTC day
    YYYY-MM-DD; a status) and the sum of the usage they reported (`cost_usd`/`turns` None where none reported one)."""

    key: str | None
    runs: int
    runs_with_usage: int
    usage: Usage


def claim_owner() -> str:
    """This process as a gate claim's owner: "host:pid:random" (the random part tells a reused pid apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def closed_reason(gate_id: str, record: GateRecord) -> str:
    """Why a gate that is not open cannot be claimed, for the person answering it."""
    match record.state:
        case "answering":
            return f"Gate {gate_id} is being answered right now; it cannot be answered twice."
        case "answered" | "declined":
            when = record.answered_at.isoformat(timespec="seconds") if record.answered_at else "earlier"
            return f"Gate {gate_id} was already {record.state} ({record.decision or 'no detail'}) at {when}."
        case _:
            return f"Gate {gate_id} is closed: its run has moved on or ended."


class RunStore(Protocol):
    """runbridge's record of runs, gates and events. Cursors it gives out are opaque; one it did not give out
    raises `CursorError`."""

    @property
    def owner(self) -> str:
        """This process, as the owner of the gate claims it makes."""
        ...

    async def aclose(self) -> None: ...

    # -- runs
    async def record_run(
        self, profile: str, run: Run, *, locator: dict[str, str] | None = None, user: str | None = None
    ) -> None:
        """Record `run`; `user` is who started it, kept from the first record on (never changed after)."""
        ...

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
    ) -> None: ...

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
    ) -> RunRecord: ...

    async def observe(self, profile: str, run: Run) -> tuple[RunRecord, list[GateRecord]]: ...

    async def get_run(self, profile: str, run_id: str) -> RunRecord | None: ...

    async def list_runs(
        self,
        profile: str | None,
        *,
        cursor: str | None = None,
        limit: int = 20,
        status: RunStatus | None = None,
        user: str | None = None,
    ) -> Page[RunRecord]:
        """Newest first; with `user`, only the runs that user started."""
        ...

    async def runs_since(self, profile: str | None, since: datetime) -> list[RunRecord]: ...

    async def usage_sums(self, profile: str | None, since: datetime, group_by: UsageKey) -> list[UsageSums]: ...

    async def set_locator(self, profile: str, run_id: str, locator: dict[str, str]) -> bool: ...

    # -- gates
    async def record_gate(self, profile: str, gate: Gate) -> bool: ...

    async def update_gate(self, profile: str, gate: Gate) -> None: ...

    async def get_gate(self, profile: str, gate_id: str) -> GateRecord | None: ...

    async def gates(
        self, profile: str | None = None, *, run_id: str | None = None, states: tuple[GateState, ...] = ("open",)
    ) -> list[GateRecord]: ...

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
        """A page of the matching gates, oldest first; with `user`, only the gates of runs that user started."""
        ...

    async def claim_gate(self, profile: str, gate_id: str, *, lease_seconds: float = 120.0) -> Gate: ...

    async def finish_gate(self, profile: str, gate_id: str, state: GateState, decision: str | None = None) -> None: ...

    async def close_gates(self, profile: str, run_id: str, *, keep: str | None = None) -> None: ...

    async def stale_claims(self, profile: str | None = None) -> list[GateRecord]: ...

    async def take_over(self, profile: str, gate_id: str) -> GateRecord | None: ...

    # -- events
    async def append_events(self, profile: str, run_id: str, events: Sequence[RunEvent]) -> None: ...

    async def events(
        self, profile: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> StoredEvents: ...

    # -- tasks
    async def record_task(self, task: TaskRecord) -> None:
        """Store a new task; its run must be recorded first (`InputError` otherwise)."""
        ...

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """The task, or None when unknown or past its ttl."""
        ...

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
        """Record where the task stands (`gate_id` is kept only while `input_required`); an ended task is left as
        it is. The task as it now stands, or None when unknown."""
        ...

    async def list_tasks(self, owner: str | None, *, cursor: str | None = None, limit: int = 20) -> Page[TaskRecord]:
        """`owner`'s tasks (None: the tasks made without an identity), newest first, past their ttl left out."""
        ...

    async def tasks_of_run(self, profile: str, run_id: str) -> list[TaskRecord]:
        """The tasks bound to a run that have not ended."""
        ...

    async def claim_task(self, task_id: str, *, lease_seconds: float) -> bool:
        """Become the process that follows the task (`owner` of this store) while no other holds a live lease;
        renews this process's own lease. False when another process holds it, or the task has ended."""
        ...

    # -- follow leases
    async def claim_follow(self, profile: str, run_id: str, *, lease_seconds: float) -> FollowLease | None:
        """Become the process that follows the run in the background (`owner` of this store) while no other holds
        a live lease, or renew this process's own; None when another process holds it."""
        ...

    async def release_follow(self, profile: str, run_id: str) -> None:
        """Give up this process's follow lease of the run (another's is left alone)."""
        ...
