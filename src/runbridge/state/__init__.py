"""runbridge's own record of runs and gates (survives restarts; works where a backend cannot list)."""

from .cursors import offset_cursor
from .sqlite_store import SqliteStore
from .store import (
    TASK_ENDS,
    FollowLease,
    GateRecord,
    GateState,
    RunRecord,
    RunStore,
    StoredEvents,
    TaskRecord,
    TaskStatus,
    UsageKey,
    UsageSums,
)

__all__ = [
    "TASK_ENDS",
    "FollowLease",
    "GateRecord",
    "GateState",
    "RunRecord",
    "RunStore",
    "SqliteStore",
    "StoredEvents",
    "TaskRecord",
    "TaskStatus",
    "UsageKey",
    "UsageSums",
    "offset_cursor",
]
