"""The platform's shapes, read into core types: agents (catalogue entries and the account's own), download info,
and workspace runs (the run list's items and a run's logs). Unknown or missing fields are tolerated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...core.agents import Agent
from ...core.models import Run, RunStatus, Usage
from .._secrets import scrub  # what runbridge sent, out of what comes back
from .._wire import parse_time

__all__ = ["RUN_STATUSES", "agent_from", "download_from", "run_from_logs", "run_from_summary", "scrub"]

_DETAILS = (
    "type",
    "default_endpoint",
    "execution_engine",
    "run_mode",
    "callable",
    "pricing_mode",
    "price_per_call_cents",
    "stars_count",
    "fork_count",
    "supported_providers",
    "required_secrets",
    "workspace_id",
    "created_at",
    "source_url",
)
RUN_STATUSES = {
    "queued": RunStatus.QUEUED,
    "pending": RunStatus.QUEUED,
    "running": RunStatus.RUNNING,
    "completed": RunStatus.COMPLETED,
    "succeeded": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "timeout": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _schema(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) and value else None


def agent_from(doc: Any, *, public: bool) -> Agent:
    """A catalogue entry (`public`: its id is `org/agent`) or one of the account's agents (its id is its UUID)."""
    item: dict[str, Any] = doc if isinstance(doc, dict) else {}
    org = _str(item.get("org_slug")) or _str(item.get("org")) or "?"
    name = _str(item.get("name")) or "?"
    version = _str(item.get("version"))
    uuid = _str(item.get("id"))
    details: dict[str, Any] = {k: item[k] for k in _DETAILS if item.get(k) is not None}
    details["org"] = org
    details["ref"] = f"{org}/{name}@{version or 'latest'}"
    if uuid:
        details["uuid"] = uuid
    if "execution_engine" in item:  # in an agent's details, not in the catalogue's list
        details["streams"] = item.get("type") == "agent" and item.get("execution_engine") == "managed_loop"
    tags = item.get("tags")
    visibility = "public" if item.get("is_public", public) else "private"
    return Agent(
        id=f"{org}/{name}" if public or not uuid else uuid,
        name=name,
        description=_str(item.get("description")),
        version=version,
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
        visibility=visibility,
        input_schema=_schema(item.get("input_schema")),
        output_schema=_schema(item.get("output_schema")),
        details=details,
    )


def download_from(doc: Any) -> dict[str, Any]:
    """What running the agent locally takes, as far as a person needs to know (never its code)."""
    item: dict[str, Any] = doc if isinstance(doc, dict) else {}
    keep = (
        "type",
        "run_mode",
        "execution_engine",
        "source_url",
        "pip_package",
        "run_command",
        "has_bundle",
        "entrypoint",
    )
    info = {k: item[k] for k in keep if item.get(k) not in (None, "", [])}
    deps = item.get("dependencies")
    if isinstance(deps, list) and deps:
        info["dependencies"] = deps[:20]
    return {"available": True, **info}


def _when(value: Any) -> datetime | None:
    return parse_time(value)


def run_from_summary(item: dict[str, Any]) -> Run:
    """One item of `GET /workspaces/{ws}/runs`."""
    raw = str(item.get("status") or "")
    agent, version = _str(item.get("agent_name")), _str(item.get("agent_version"))
    return Run(
        run_id=str(item.get("id")),
        target_id=f"{agent}@{version}" if agent and version else agent,
        status=RUN_STATUSES.get(raw, RunStatus.UNKNOWN),
        raw_status=raw or None,
        created_at=_when(item.get("started_at") or item.get("created_at")),
        error=_str(item.get("error_message")),
        details={k: item[k] for k in ("trigger_source", "duration_ms") if item.get(k) is not None},
    )


def run_from_logs(doc: Any, run_id: str) -> Run:
    """`GET /workspaces/{ws}/runs/{id}/logs`: the run's status, input, output and what its sandbox printed."""
    item: dict[str, Any] = scrub(doc) if isinstance(doc, dict) else {}
    raw = str(item.get("run_status") or item.get("status") or "")
    agent, version = _str(item.get("agent_name")), _str(item.get("agent_version"))
    details: dict[str, Any] = {
        k: item[k] for k in ("stdout", "stderr", "exit_code", "execution_time_ms") if item.get(k) not in (None, "")
    }
    usage = item.get("usage")
    return Run(
        run_id=str(item.get("run_id") or run_id),
        target_id=f"{agent}@{version}" if agent and version else agent,
        status=RUN_STATUSES.get(raw, RunStatus.UNKNOWN),
        raw_status=raw or None,
        outputs=item.get("output_data"),
        error=_str(item.get("error_message")),
        usage=Usage(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            total_tokens=int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0),
        )
        if isinstance(usage, dict)
        else None,
        details=details,
    )
