"""What both run stores make of what they keep: records built from what is stored, and the rules that decide a
write (a status that only moves forward), so that `SqliteStore` and `RedisStore` differ only in how they read and
write.

A stored run is read as a mapping from the names both stores give its parts (SQLite's columns, Redis's hash fields)
to their text; a part not stored is missing or None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..core.models import RunStatus, Usage
from .store import KEPT_STATUSES, RunRecord

__all__ = ["RUN_FIELDS", "Stored", "keeps_status", "run_record", "stored_json", "stored_usage", "unchanged"]

Stored = Mapping[str, Any]

# A run's stored parts, by the name both stores give them (and in the order of SQLite's columns).
RUN_FIELDS = (
    "profile",
    "run_id",
    "target_id",
    "status",
    "cursor",
    "error",
    "usage",
    "created_at",
    "updated_at",
    "outputs",
    "locator",
    "started_by",
)


def stored_json(value: Any) -> str | None:
    """A value as stored (None: nothing new to store); what JSON cannot hold is kept as its text."""
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def stored_usage(usage: Usage | None) -> str | None:
    return None if usage is None else usage.model_dump_json()


def keeps_status(stored: str, told: RunStatus | None) -> bool:
    """Whether a run stored with status `stored` keeps it when told `told`: an `unknown` (a backend that cannot say)
    never replaces an end or a wait."""
    return told is RunStatus.UNKNOWN and stored in KEPT_STATUSES


def unchanged(stored: Stored, status: RunStatus, **seen: Any) -> bool:
    """Whether a stored run already says all of what a backend just said (`status`, and the `error`, `usage`,
    `target_id` and `outputs` it saw): then nothing is written."""
    used = stored_usage(seen["usage"])
    out = stored_json(seen["outputs"])
    return (
        (stored["status"] == status.value or keeps_status(stored["status"], status))
        and (seen["error"] is None or seen["error"] == stored.get("error"))
        and (used is None or used == stored.get("usage"))
        and (out is None or out == stored.get("outputs"))
        and (seen["target_id"] is None or stored.get("target_id") is not None)
    )


def run_record(stored: Stored) -> RunRecord:
    return RunRecord(
        stored["profile"],
        stored["run_id"],
        stored.get("target_id"),
        RunStatus(stored["status"]),
        stored.get("cursor"),
        stored.get("error"),
        datetime.fromisoformat(stored["created_at"]),
        datetime.fromisoformat(stored["updated_at"]),
        Usage.model_validate_json(stored["usage"]) if stored.get("usage") else None,
        json.loads(stored["outputs"]) if stored.get("outputs") else None,
        json.loads(stored["locator"]) if stored.get("locator") else None,
        stored.get("started_by"),
    )
