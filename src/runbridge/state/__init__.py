"""runbridge's own record of runs and gates (survives restarts; works where a backend cannot list)."""

from .cursors import offset_cursor
from .sqlite_store import SqliteStore
from .store import GateRecord, GateState, RunRecord, RunStore, StoredEvents, UsageKey, UsageSums

__all__ = [
    "GateRecord",
    "GateState",
    "RunRecord",
    "RunStore",
    "SqliteStore",
    "StoredEvents",
    "UsageKey",
    "UsageSums",
    "offset_cursor",
]
