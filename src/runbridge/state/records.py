"""What both run stores make of what they keep: records built from what is stored, and the rules that decide a
write (a status that only moves forward, a gate's claim gone stale), so that `SqliteStore` and `RedisStore` differ
only in how they read and write.

A stored run or gate is read as a mapping from the names both stores give its parts (SQLite's columns, Redis's hash
fields) to their text; a part not stored is missing or None.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..core.models import Gate, RunStatus, Usage, utc_now
from .store import KEPT_STATUSES, GateRecord, RunRecord

__all__ = [
    "GATE_FIELDS",
    "RUN_FIELDS",
    "Stored",
    "claim_taken_over",
    "gate_json",
    "gate_record",
    "keeps_status",
    "run_record",
    "stale_for",
    "stored_json",
    "stored_usage",
    "unchanged",
]

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


# -- gates

# A gate's stored parts, by the name both stores give them (and in the order of SQLite's columns).
GATE_FIELDS = ("gate", "state", "answered_at", "decision", "owner", "lease_until")


def gate_json(gate: Gate) -> str:
    """The gate with its adapter-private `resume` notes (excluded from normal dumps, needed to answer later)."""
    doc = gate.model_dump(mode="json")
    doc["resume"] = gate.resume
    return json.dumps(doc)


def gate_record(stored: Stored) -> GateRecord:
    answered, until = stored.get("answered_at"), stored.get("lease_until")
    return GateRecord(
        Gate.model_validate_json(stored["gate"]),
        stored["state"],
        datetime.fromisoformat(answered) if answered else None,
        stored.get("decision"),
        stored.get("owner"),
        datetime.fromisoformat(until) if until else None,
    )


def stale_for(record: GateRecord, owner: str, now: datetime) -> bool:
    """Whether `owner` may take over the claim on a gate: it is being answered by another, whose lease lapsed (or
    who claimed it before claims were leases) or who was a process on this host that is gone."""
    return record.state == "answering" and record.owner != owner and _stale(record, now)


def claim_taken_over(record: GateRecord | None, owner: str, lease_seconds: float) -> GateRecord | None:
    """The gate with its claim moved to `owner` until `lease_seconds` from now; None when the claim is not stale
    for `owner` (`stale_for`), or there is no such gate."""
    now = utc_now()
    if record is None or not stale_for(record, owner, now):
        return None
    return replace(record, owner=owner, lease_until=now + timedelta(seconds=lease_seconds))


def _stale(record: GateRecord, now: datetime) -> bool:
    if record.owner is None or record.lease_until is None or record.lease_until <= now:
        return True  # lapsed, or claimed by a runbridge from before claims were leases
    host, _, rest = record.owner.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or not a pid this system has): not provably gone
    return True
