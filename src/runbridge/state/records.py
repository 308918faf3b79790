"""What both run stores make of what they keep: records built from what is stored, and the rules that decide a
write (a status that only moves forward, a gate's claim gone stale, a task past its ttl) and the usage sums made of
what they add up, so that `SqliteStore` and `RedisStore` differ only in how they read and write.

A stored run, gate or task is read as a mapping from the names both stores give its parts (SQLite's columns, Redis's
hash fields) to their text; a part not stored is missing or None.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

from ..core.models import Gate, Page, Run, RunStatus, Usage, utc_now
from .cursors import encode_cursor
from .store import KEPT_STATUSES, GateRecord, RunRecord, TaskRecord, TaskStatus, UsageSums

__all__ = [
    "GATE_FIELDS",
    "RUN_FIELDS",
    "TASK_FIELDS",
    "USAGE_COUNTED",
    "USAGE_FIGURES",
    "USAGE_SUMS",
    "Stored",
    "add_sums",
    "claim_taken_over",
    "gate_json",
    "gate_record",
    "keeps_status",
    "run_record",
    "seen_of",
    "stale_for",
    "stored_json",
    "stored_usage",
    "task_expires",
    "task_json",
    "task_page",
    "task_record",
    "task_stored",
    "unchanged",
    "usage_sums_of",
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


def seen_of(run: Run) -> dict[str, Any]:
    """What a backend said of a run besides its status, as `unchanged` and a store's `observe_run` take it."""
    return {"error": run.error, "usage": run.usage, "target_id": run.target_id, "outputs": run.outputs}


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


# -- tasks

# A task's stored parts, by the name both stores give them (and in the order of SQLite's columns).
TASK_FIELDS = (
    "task_id",
    "owner",
    "profile",
    "run_id",
    "tool",
    "status",
    "status_message",
    "gate_id",
    "result",
    "error",
    "created_at",
    "updated_at",
    "ttl_ms",
    "poll_ms",
    "runner",
    "runner_until",
)


def task_json(value: dict[str, Any] | None) -> str | None:
    """A task's result or error as stored (None: nothing to store)."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


def task_stored(task: TaskRecord, owner: str) -> dict[str, str | int | None]:
    """What is stored of `task`, by `TASK_FIELDS` name (None: nothing); `owner` is the store's own text for the
    task's owner (each store spells "no identity" its own way)."""
    return {
        "task_id": task.task_id,
        "owner": owner,
        "profile": task.profile,
        "run_id": task.run_id,
        "tool": task.tool,
        "status": task.status,
        "status_message": task.status_message,
        "gate_id": task.gate_id,
        "result": task_json(task.result),
        "error": task_json(task.error),
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
        "ttl_ms": task.ttl_ms,
        "poll_ms": task.poll_ms,
        "runner": task.runner,
        "runner_until": task.runner_until.isoformat() if task.runner_until else None,
    }


def task_record(stored: Stored, owner: str | None) -> TaskRecord:
    """The task stored as `stored`, made by `owner` (read by the store from its own text)."""
    ttl, until = stored.get("ttl_ms"), stored.get("runner_until")
    return TaskRecord(
        task_id=stored["task_id"],
        profile=stored["profile"],
        run_id=stored["run_id"],
        tool=stored["tool"],
        status=cast(TaskStatus, stored["status"]),
        created_at=datetime.fromisoformat(stored["created_at"]),
        updated_at=datetime.fromisoformat(stored["updated_at"]),
        ttl_ms=None if ttl is None else int(ttl),
        poll_ms=int(stored["poll_ms"]),
        owner=owner,
        status_message=stored.get("status_message"),
        gate_id=stored.get("gate_id"),
        result=_loads(stored.get("result")),
        error=_loads(stored.get("error")),
        runner=stored.get("runner"),
        runner_until=datetime.fromisoformat(until) if until else None,
    )


def task_expires(task: TaskRecord) -> datetime | None:
    """When the task is gone, past its ttl (None: kept as long as its run)."""
    return None if task.ttl_ms is None else task.created_at + timedelta(milliseconds=task.ttl_ms)


def task_page(found: list[TaskRecord], limit: int) -> Page[TaskRecord]:
    """The first `limit` of `found` (tasks newest first, one more than a page when there are more), and the cursor
    that goes on after the last of them."""
    items = found[:limit]
    last = items[-1] if items and len(found) > limit else None
    return Page(items=items, next_cursor=encode_cursor(last.created_at.isoformat(), last.task_id) if last else None)


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else cast(dict[str, Any], json.loads(text))


# -- usage sums

USAGE_FIGURES = ("input_tokens", "output_tokens", "total_tokens")
USAGE_COUNTED = ("cost_usd", "turns")  # absent from a run's usage unless its backend reported them: counted apart
# What each group of runs sums, in this order: its runs, those that reported usage, each figure, and how many
# reported each of `USAGE_COUNTED`.
USAGE_SUMS = ("runs", "with_usage", *USAGE_FIGURES, *USAGE_COUNTED, "cost_runs", "turns_runs")


def add_sums(merged: dict[str, list[float]], group: str, values: Sequence[float]) -> None:
    """Add `values` (sums in `USAGE_SUMS` order) to those `merged` holds for `group`."""
    known = merged.get(group)
    merged[group] = list(values) if known is None else [a + b for a, b in zip(known, values, strict=True)]


def usage_sums_of(merged: dict[str, list[float]]) -> list[UsageSums]:
    """The groups' sums as reported (a group of no runs left out; `key` None for runs with no target)."""
    return [_usage_sums(group, values) for group, values in merged.items() if values[0]]


def _usage_sums(group: str, values: list[float]) -> UsageSums:
    runs, used, tokens_in, tokens_out, total, cost, turns, cost_runs, turns_runs = values
    usage = Usage(
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
        total_tokens=int(total),
        cost_usd=cost if cost_runs else None,
        turns=int(turns) if turns_runs else None,
    )
    return UsageSums(group or None, int(runs), int(used), usage)
