"""Finding an agent call by runbridge's own `call_…` id in another runbridge process, or after a restart.

A synchronous call runs under runbridge's `call_…` id until the platform names its workspace run (`X-Run-Id`, which
comes with the answer). The call's locator (`Run.locator`, kept in the run store) says how to find that run again:
the agent called (`agent`, `org/agent@version`), when the call was sent (`sent_at`) and a digest of the input sent
(`input_digest`); once the platform named it, the workspace run itself (`workspace_run`).

Without `workspace_run`, the workspace's runs of that agent and version that started around `sent_at` are the
candidates (a run starts when the platform receives the call): one is the call; several are told apart by the
digest of their logged input; none, or several that the digest cannot tell apart, is said as it is, never guessed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ...core.errors import NotFoundError, RunbridgeError
from ...core.models import Run
from ...http import segment
from .client import PlatformHttp
from .wire import parse_time

__all__ = ["LOCAL_PREFIX", "CallNotFound", "input_digest", "match_call"]

LOCAL_PREFIX = "call_"
_EARLIEST = timedelta(seconds=30)  # a run that started this much before the call was sent is not it (clock skew)
_LATEST = timedelta(seconds=120)  # nor one that started this much after (the call's own wait for a connection)
_MAX_DIGESTS = 5  # candidates whose logs are read to compare inputs
_NOT_A_CALL = frozenset({"schedule", "webhook", "agent"})  # runs no API call of runbridge's started


class CallNotFound(NotFoundError):
    """The call's workspace run cannot be told: none started when it was sent, or several that look alike."""


def input_digest(body: Mapping[str, Any]) -> str:
    """A short digest of what a call sent as its input (without `llm_credentials`, which the platform does not
    keep): to tell two calls of one agent apart by what the workspace run logged as its input."""
    kept = {k: v for k, v in body.items() if k != "llm_credentials"}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _sent_at(locator: Mapping[str, str]) -> datetime | None:
    return parse_time(locator.get("sent_at"))


async def match_call(wire: PlatformHttp, run_id: str, locator: Mapping[str, str]) -> str:
    """The workspace run of call `run_id` made elsewhere (its locator says which agent, when and what), or
    `CallNotFound` saying what is known of the call."""
    agent = locator.get("agent") or ""
    name, _, version = agent.split("/")[-1].partition("@")
    sent = _sent_at(locator)
    if not name or sent is None:
        raise CallNotFound(
            f"Run {run_id!r} is an agent call made by another runbridge process (or before a restart) whose record "
            "does not say enough to find its workspace run on orchagent.io. Look for it with runs_list.",
            status=404,
        )
    ws = await wire.workspace()
    answer = await wire.call(
        "GET",
        f"/workspaces/{segment(ws)}/runs",
        action="find the call's workspace run",
        params={"agent_name": name, "limit": 200},
    )
    doc = answer.data if isinstance(answer.data, dict) else {}
    candidates: list[str] = []
    for item in doc.get("runs") or []:
        if not isinstance(item, dict) or (version and item.get("agent_version") not in (None, version)):
            continue
        if item.get("trigger_source") in _NOT_A_CALL:
            continue
        started = parse_time(item.get("started_at") or item.get("created_at"))
        if started is not None and sent - _EARLIEST <= started <= sent + _LATEST:
            candidates.append(str(item.get("id")))
    if len(candidates) > 1 and locator.get("input_digest"):
        alike = [c for c in candidates[:_MAX_DIGESTS] if await _logged_digest(wire, ws, c) == locator["input_digest"]]
        candidates = alike if alike else candidates
    when = sent.isoformat(timespec="seconds")
    if not candidates and datetime.now(UTC) < sent + _LATEST:
        raise CallNotFound(
            f"Run {run_id!r} is a call of {agent} sent at {when} by another runbridge process (or before a restart), "
            f"and no run of {agent} has started in workspace {ws} since: the platform may not have received it yet. "
            "Read it again in a few seconds; if still none has started two minutes after it was sent, the call "
            "never reached the agent.",
            status=404,
        )
    if not candidates:
        raise CallNotFound(
            f"Run {run_id!r} is a call of {agent} sent at {when} by a runbridge process that stopped, or by another "
            f"one, before orchagent.io named its run; workspace {ws} has no run of {agent} that started then, so the "
            "call never reached the agent (or the platform refused it): nothing ran. Call the agent again if it is "
            "still wanted.",
            status=404,
        )
    if len(candidates) > 1:
        raise CallNotFound(
            f"Run {run_id!r} is a call of {agent} sent at {when} before orchagent.io named its run, and "
            f"{len(candidates)} runs of {agent} with the same input started then: {', '.join(candidates)}. Read one "
            "with runs_get by its id.",
            status=404,
        )
    return candidates[0]


async def _logged_digest(wire: PlatformHttp, ws: str, run: str) -> str | None:
    try:
        answer = await wire.call(
            "GET", f"/workspaces/{segment(ws)}/runs/{segment(run)}/logs", action="read the run's logs"
        )
    except RunbridgeError:
        return None
    logged = answer.data.get("input_data") if isinstance(answer.data, dict) else None
    return input_digest(logged) if isinstance(logged, dict) else None


def as_call(run: Run, run_id: str, workspace_run: str, agent: str) -> Run:
    """The workspace run read for call `run_id`: under the call's id, naming its workspace run."""
    details = {**run.details, "agent": agent, "workspace_run_id": workspace_run}
    locator = {"agent": agent, "workspace_run": workspace_run}
    return run.model_copy(update={"run_id": run_id, "details": details, "locator": locator})
