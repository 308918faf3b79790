"""The orq.ai family as runbridge knows it outside the adapter: options, the `ORQ_API_KEY` profile, and what doctor
checks. Imports no HTTP code: it is read at startup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, PositiveFloat

from ...core.families import DoctorChecks, FamilyOptions, FamilySpec

__all__ = ["DEFAULT_URL", "SPEC", "OrqOptions"]

DEFAULT_URL = "https://my.orq.ai"  # the official client's default server (the API reference shows api.orq.ai)
_VARS = ("ORQ_API_KEY", "ORQ_BASE_URL")


class OrqOptions(FamilyOptions):
    """`[profiles.NAME.options]` of an orq.ai profile (docs/backends/orq.md)."""

    # How runs_start and agents_call execute an agent when the call does not say: `stream-task` (followed live),
    # `task` (invoked, then read back through the responses endpoint) or `responses`.
    endpoint: Literal["stream-task", "task", "responses"] = "stream-task"
    # Sent as `stream_timeout_seconds` with every streamed call (orq.ai's default: 1800).
    stream_timeout_seconds: int | None = Field(default=None, ge=1, le=3600)
    # How often a task is read (`GET .../responses/{task_id}`) while no stream shows it: after a stream timed out,
    # for the `task` endpoint, and for a task runbridge did not start in this process.
    poll_seconds: PositiveFloat = 2.0
    # `identity`, `thread`, `memory`, `metadata` and `variables` sent with every call (a call's own win).
    defaults: dict[str, Any] = Field(default_factory=dict[str, Any])


def _env_profile(env: Mapping[str, str]) -> dict[str, Any] | None:
    """`ORQ_API_KEY` (the official client's variable) defines a profile at the client's default server; the event
    stream waits on people (tool reviews) with no keep-alive promised, so it gets no read timeout: orq.ai's own
    `stream_timeout_seconds` bounds it."""
    if not env.get("ORQ_API_KEY"):
        return None
    return {
        "base_url": env.get("ORQ_BASE_URL") or DEFAULT_URL,
        "api_key_env": "ORQ_API_KEY",
        "stream_read_timeout": None,
    }


def _adapter() -> type:
    from .adapter import OrqBackend

    return OrqBackend


SPEC = FamilySpec(
    name="orq",
    display_name="orq.ai",
    adapter=_adapter,
    options=OrqOptions,
    env_vars=_VARS,
    env_profile=_env_profile,
    doctor=DoctorChecks(host_kind="orq.ai API", api_prefixes=("/v2/agents", "/v2")),
    sandbox="orq",
)
