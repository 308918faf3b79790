"""The LangGraph family as runbridge knows it outside the adapter: options, the `LANGGRAPH_*` profile, how its error
bodies read, what doctor checks and what the demo runs. Imports no HTTP code: it is read at startup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, PositiveFloat, field_validator

from ...core.families import DemoDefaults, DoctorChecks, ErrorInfo, FamilyOptions, FamilySpec

__all__ = ["MODES", "SPEC", "LangGraphOptions"]

# The stream modes runbridge maps onto run events (docs/backends/langgraph.md); `tasks` (it announces interrupts) and
# `checkpoints` (where a fork can start, never shown) are always asked for as well.
MODES = ("updates", "messages-tuple", "custom", "tasks", "values", "messages", "events", "debug")
_KEY_VARS = ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")


class LangGraphOptions(FamilyOptions):
    """`[profiles.NAME.options]` of a LangGraph profile."""

    # How the key (api_key_env / token_file) is sent: `x-api-key` (the Agent Server's own header) or a bearer token
    # (a server behind custom auth that reads `Authorization`).
    auth: Literal["x-api-key", "bearer"] = "x-api-key"
    # The stream modes asked for on every run, mapped onto run events.
    stream_modes: list[str] = Field(default_factory=lambda: ["updates", "messages-tuple", "custom", "tasks"])
    # How often a run that waits on its gates is asked whether it was resumed (by another client, say).
    poll_seconds: PositiveFloat = 1.0

    @field_validator("stream_modes")
    @classmethod
    def _modes(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in MODES]
        if unknown:
            raise ValueError(f"unknown stream mode(s) {unknown}; choose from {list(MODES)}")
        return list(dict.fromkeys(value))


def _env_profile(env: Mapping[str, str]) -> dict[str, Any] | None:
    """`LANGGRAPH_API_URL`, and the key from the variables the LangGraph SDK reads, in its order."""
    if not env.get("LANGGRAPH_API_URL"):
        return None
    profile: dict[str, Any] = {"base_url": env["LANGGRAPH_API_URL"]}
    for var in _KEY_VARS:
        if env.get(var):
            profile["api_key_env"] = var
            break
    return profile


def _error_shape(body: dict[str, Any]) -> ErrorInfo | None:
    """The server answers `{"detail": "..."}` (read by the common envelopes) or `{"error": ..., "message": ...}`."""
    message, code = body.get("message"), body.get("error")
    if isinstance(message, str) and isinstance(code, str):
        return ErrorInfo(message=message, code=code)
    return None


def _adapter() -> type:
    from .adapter import LangGraphBackend

    return LangGraphBackend


SPEC = FamilySpec(
    name="langgraph",
    display_name="LangGraph",
    adapter=_adapter,
    options=LangGraphOptions,
    env_vars=("LANGGRAPH_API_URL", *_KEY_VARS),
    env_profile=_env_profile,
    error_shape=_error_shape,
    doctor=DoctorChecks(host_kind="LangGraph Agent Server"),
    demo=DemoDefaults(workflow="review"),
    sandbox="langgraph",
)
