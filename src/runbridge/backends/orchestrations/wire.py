"""Reading Synapse's wire shapes (docs/backends/orchestrations.md), in both the documentation's and the server code's
spellings.

Synapse's documentation names an event's step `step_id` and its type `type` (which on the wire is already the event's
own type); the code sends `orch_step_id` and `step_type`. `step_history` items carry `turns` and `cost_usd` in the
documentation and timings in the code. Everything that reads a Synapse document goes through here.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, cast

from ...core.models import RunStatus, Usage

__all__ = [
    "api_path",
    "as_dict",
    "frame_number",
    "parse_data",
    "run_status",
    "step_error_text",
    "step_id_of",
    "target_of_run_id",
    "usage_of",
]

log = logging.getLogger("runbridge.orchestrations")

_STATUS = {
    "queued": RunStatus.QUEUED,
    "pending": RunStatus.QUEUED,
    "running": RunStatus.RUNNING,
    "resuming": RunStatus.RUNNING,
    "paused": RunStatus.WAITING,
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "canceled": RunStatus.CANCELLED,
}
_RUN_ID = re.compile(r"run_(?P<target>.+)_(?P<ms>\d+)")


def api_path(version: str, path: str) -> str:
    return f"/api/{version}{path}"


def run_status(raw: object) -> RunStatus:
    """A Synapse status (v1 result, v2 status, `orchestration_complete`) → normalised; `paused` is a human gate."""
    return _STATUS.get(str(raw).lower(), RunStatus.UNKNOWN)


def as_dict(value: object) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def step_id_of(payload: dict[str, Any]) -> str | None:
    step = payload.get("orch_step_id") or payload.get("step_id")
    return str(step) if step else None


def parse_data(data: str) -> dict[str, Any] | None:
    """One frame's JSON object; None (logged, skipped) for anything else."""
    try:
        body = json.loads(data)
    except json.JSONDecodeError:
        log.warning("skipped a malformed event frame (%d bytes)", len(data))
        return None
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        log.warning("skipped an event frame without a type")
        return None
    return cast(dict[str, Any], body)


def target_of_run_id(run_id: str) -> str | None:
    """The orchestration id inside a run id (`run_<orchestration id>_<epoch ms>`), when it has that shape."""
    match = _RUN_ID.fullmatch(run_id)
    return match.group("target") if match else None


def frame_number(frame_id: str | None) -> int | None:
    """A v2 frame id (a Redis stream id, `<ms>-<n>`) as one increasing integer, for de-duplication."""
    if not frame_id:
        return None
    ms, _, n = frame_id.partition("-")
    if not ms.isdigit() or (n and not n.isdigit()):
        return None
    return int(ms) * 1_000_000 + int(n or 0)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def usage_of(step_history: object, *, tokens: object = None) -> Usage | None:
    """Cost and turns summed over `step_history` (where the items carry them), plus a token total when known."""
    cost: float | None = None
    turns: int | None = None
    for item in step_history if isinstance(step_history, list) else []:
        entry = as_dict(item)
        spent = _number(entry.get("cost_usd"))
        taken = _number(entry.get("turns"))
        if spent is not None:
            cost = (cost or 0.0) + spent
        if taken is not None:
            turns = (turns or 0) + int(taken)
    total = int(tokens) if isinstance(tokens, int) and not isinstance(tokens, bool) else 0
    if cost is None and turns is None and not total:
        return None
    return Usage(total_tokens=total, cost_usd=round(cost, 6) if cost is not None else None, turns=turns)


_TRACEBACK = "Traceback (most recent call last):"


def step_error_text(raw: object) -> str:
    """A step's error as a person reads it. Synapse puts a failed transform's whole Python traceback in the error
    (`Transform error: ... failed (exit 1): Traceback ...`): only what precedes it and its last line, the exception,
    are kept (the frames name the server's temporary files and help nobody here)."""
    text = str(raw) if raw not in (None, "") else "unknown error"
    head, found, trace = text.partition(_TRACEBACK)
    if not found:
        return text.strip()
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    return f"{head.strip()} {lines[-1] if lines else ''}".strip()
