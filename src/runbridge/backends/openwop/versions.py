"""Which OpenWOP protocol version runbridge speaks to a host (docs/backends/openwop.md).

v1 puts `/v1` before every path; v2 uses bare paths and sends `OpenWOP-Version: 2.0` with every request (its poll
asks `afterSequence` and answers `{events, lastSequence, status, isTerminal}`). The host's discovery document names
the versions it serves (`protocolVersion` in v1; `protocolVersions` and `preferredVersion` in v2). A profile may pin
one (`options.protocol_version`); otherwise runbridge speaks the newest version both sides support, and v1 (the
version every host is expected to serve first) when discovery names none or cannot be read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ...core.config import Profile
from ...core.errors import ConfigError, UnsupportedError, sentences
from .discovery import Discovery
from .spec import OpenWopOptions

__all__ = ["SPOKEN", "Wire", "choose_version", "pinned_version"]

log = logging.getLogger("runbridge.openwop")

SPOKEN = (1, 2)
"""The protocol majors runbridge speaks."""


@dataclass(frozen=True)
class Wire:
    """How requests are written in one protocol version: the path prefix and the version header."""

    version: int

    @property
    def prefix(self) -> str:
        return "/v1" if self.version == 1 else ""

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.version == 1 else {"OpenWOP-Version": self.label}

    @property
    def label(self) -> str:
        return f"{self.version}.0"


def pinned_version(profile: Profile) -> int | None:
    """The version the profile pins (`options.protocol_version`, checked when the configuration was read), or None
    to follow the host's discovery."""
    return profile.typed_options(OpenWopOptions).protocol_version


def _listed(versions: list[int]) -> str:
    return " and ".join(f"{v}.0" for v in versions)


def choose_version(found: Discovery, pinned: int | None, profile: Profile) -> int:
    """The version to speak: the pinned one (refused when discovery says the host lacks it), else the newest one
    both sides support, else 1 when discovery says nothing about versions."""
    offered = found.majors
    if pinned is not None:
        if offered and pinned not in offered:
            usable = [v for v in offered if v in SPOKEN]
            fix = (
                f"Set options.protocol_version = {max(usable)}, or remove it to let runbridge choose"
                if usable
                else f"runbridge speaks OpenWOP {_listed(list(SPOKEN))} only"
            )
            raise ConfigError(
                sentences(
                    f"Profile {profile.name!r} pins OpenWOP protocol version {pinned} (options.protocol_version), "
                    f"but the host at {profile.base_url} serves only {_listed(offered)}, says its discovery document",
                    fix,
                )
            )
        return pinned
    common = [v for v in offered if v in SPOKEN]
    if common:
        return max(common)
    if offered:
        raise UnsupportedError(
            f"The OpenWOP host at {profile.base_url} serves only protocol {_listed(offered)}, says its discovery "
            f"document; runbridge speaks {_listed(list(SPOKEN))}."
        )
    log.info("the host names no protocol version (%s); speaking 1.0", found.note or "discovery is silent on it")
    return 1
