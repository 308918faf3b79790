"""The orchagent.io platform family as runbridge knows it outside the adapter: options, the `ORCHAGENT_API_KEY`
profile, the CLI's key file to protect, and what doctor checks. Imports no HTTP code: it is read at startup."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, PositiveFloat, field_validator

from ...core.families import Credentials, DemoDefaults, DoctorChecks, FamilyOptions, FamilySpec

__all__ = ["DEFAULT_URL", "SPEC", "LlmCredentials", "PlatformOptions"]

DEFAULT_URL = "https://api.orchagent.io"
_VARS = ("ORCHAGENT_API_KEY", "ORCHAGENT_API_URL")
_CLI_CONFIG = "~/.orchagent/config.json"  # where the official CLI keeps the key it signed in with
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class LlmCredentials(FamilyOptions):
    """A bring-your-own LLM key sent with agent calls: the key is read from the environment variable named here
    (never from a tool call), when the call is made."""

    provider: str = Field(min_length=1, max_length=40)
    api_key_env: str
    model: str | None = None

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError("api_key_env names an environment variable (letters, digits, underscores), never a key")
        return value


class PlatformOptions(FamilyOptions):
    """`[profiles.NAME.options]` of an orchagent.io profile."""

    # The workspace whose agents, runs and logs the tools read; default: the account's personal workspace.
    workspace_id: str | None = None
    # Sent as `llm_credentials` with every agent call (agents that need the caller's own LLM key).
    llm_credentials: LlmCredentials | None = None
    # Usage attribution for calls made through this profile (`X-Orchagent-Tenant`).
    tenant: str | None = None
    # Say how many calls are left once `X-RateLimit-Remaining` falls to this fraction of the limit.
    quota_warning_fraction: float = Field(default=0.1, ge=0.0, le=1.0)
    # Longest a rate-limited request waits for the limit to reset (within the call's time budget, always).
    max_rate_limit_wait_seconds: PositiveFloat = 30.0
    # How long a streamed call may stay silent before it counts as lost (the platform sends no keep-alives).
    stream_idle_seconds: PositiveFloat = 600.0


def _env_profile(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The official CLI's variables: its key, and its API URL (the hosted service by default)."""
    if not env.get("ORCHAGENT_API_KEY"):
        return None
    return {"base_url": env.get("ORCHAGENT_API_URL") or DEFAULT_URL, "api_key_env": "ORCHAGENT_API_KEY"}


def _key_files(env: Mapping[str, str]) -> dict[str, str]:
    return {str(Path(_CLI_CONFIG).expanduser()): "the orchagent CLI's configuration (its API key)"}


def _adapter() -> type:
    from .adapter import PlatformBackend

    return PlatformBackend


SPEC = FamilySpec(
    name="platform",
    display_name="orchagent.io",
    adapter=_adapter,
    options=PlatformOptions,
    env_vars=_VARS,
    env_profile=_env_profile,
    credentials=Credentials(files=_key_files),
    doctor=DoctorChecks(host_kind="orchagent.io API"),
    demo=DemoDefaults(workflow="acme/repo-auditor"),
    sandbox="platform",
)
