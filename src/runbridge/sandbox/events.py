"""The engine's own event records and run statuses: wire-neutral, one log per run.

Every wire family projects these records into its own shapes; the engine never knows which family is listening.
`seq` is 0-based and dense per run. Step positions are 1-based (`step_index` 2 of `step_total` 5 reads
"step 2/5").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "TERMINAL_EVENTS",
    "TERMINAL_STATUSES",
    "EngineEvent",
    "EventType",
    "RunStatus",
    "iso_now",
]

EventType = Literal[
    "run.started",
    "step.started",
    "tool.called",
    "tool.result",
    "usage",
    "gate.opened",
    "gate.resolved",
    "step.completed",
    "step.failed",
    "run.completed",
    "run.failed",
    "run.cancelled",
    "run.paused",
    "run.resumed",
    "log",
]

RunStatus = Literal[
    "pending",
    "running",
    "waiting-approval",
    "waiting-input",
    "waiting-external",
    "paused",
    "completed",
    "failed",
    "cancelled",
]

TERMINAL_EVENTS: frozenset[str] = frozenset({"run.completed", "run.failed", "run.cancelled"})
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


def iso_now() -> str:
    """Now as ISO-8601 UTC with milliseconds and a `Z`, the way the hosts write it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class EngineEvent:
    """One entry of a run's append-only log."""

    seq: int
    type: EventType
    run_id: str
    timestamp: str
    payload: Mapping[str, Any] = field(default_factory=dict[str, Any])
    step_id: str | None = None
    step_name: str | None = None
    step_index: int | None = None
    step_total: int | None = None

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS
