"""The OpenWOP family as runbridge knows it outside the adapter: options, the `OPENWOP_*` profile, how its error
bodies read, what doctor checks and what the demo runs. Imports no HTTP code: it is read at startup."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import field_validator

from ...core.families import DemoDefaults, DoctorChecks, ErrorInfo, FamilyOptions, FamilySpec

if TYPE_CHECKING:
    from ...core.config import Profile

__all__ = ["SPEC", "OpenWopOptions", "major"]


def major(value: object) -> int | None:
    """The major of a protocol version as documents write it (`1`, `"2.0"`, `"v2"`), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    head = value.strip().lower().removeprefix("v").split(".", 1)[0]
    return int(head) if head.isdigit() else None


class OpenWopOptions(FamilyOptions):
    """`[profiles.NAME.options]` of an OpenWOP profile."""

    # The protocol version to speak (1 or 2, also written "2.0"); left out, the newest both sides support.
    protocol_version: Literal[1, 2] | None = None

    @field_validator("protocol_version", mode="before")
    @classmethod
    def _major(cls, value: object) -> int | None:
        if value is None:
            return None
        version = major(value)
        if version not in (1, 2):
            raise ValueError(
                "must be 1 or 2 (or left out, to speak the newest version the host's discovery document offers), "
                f"not {value!r:.40}"
            )
        return version


def _env_profile(env: Mapping[str, str]) -> dict[str, Any] | None:
    if not env.get("OPENWOP_BASE_URL"):
        return None
    return {
        "base_url": env["OPENWOP_BASE_URL"],
        "api_key_env": "OPENWOP_API_KEY",
        "workflows": [w.strip() for w in env.get("OPENWOP_WORKFLOWS", "").split(",") if w.strip()],
    }


def _error_shape(body: dict[str, Any]) -> ErrorInfo | None:
    from .errors import closed_envelope  # read only when an error arrives, with the HTTP code already loaded

    return closed_envelope(body)


def _note(profile: Profile) -> str | None:
    if profile.workflows:
        return None
    return "OpenWOP has no workflow list: name the ones to offer in `workflows`"


def _adapter() -> type:
    from .adapter import OpenWopBackend

    return OpenWopBackend


SPEC = FamilySpec(
    name="openwop",
    display_name="OpenWOP",
    adapter=_adapter,
    options=OpenWopOptions,
    env_vars=("OPENWOP_BASE_URL", "OPENWOP_API_KEY", "OPENWOP_WORKFLOWS"),
    env_profile=_env_profile,
    error_shape=_error_shape,
    doctor=DoctorChecks(host_kind="OpenWOP host", api_prefixes=("/v1",), note=_note),
    demo=DemoDefaults(
        workflow="approval-demo",
        workflows=("approval-demo", "clarify-demo", "quick-demo", "long-demo", "failing-demo"),
    ),
    sandbox="openwop",
)
