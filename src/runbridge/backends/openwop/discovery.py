"""The host's discovery document, `GET /.well-known/openwop` (docs/backends/openwop.md).

Read once per adapter, without the credential (it is public, and proxies may cache it). Real hosts lack it (404),
fail it (503) or answer part of it, so every reading here has a default, and what it claims is a hint only: fork
worked on a host whose discovery denied it, so no operation is refused because discovery says no.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ...core.errors import BackendError, TransportError
from ...core.models import HostInfo
from ...http import HttpClient
from .spec import major

__all__ = ["Discovery", "major", "read_discovery"]

log = logging.getLogger("runbridge.openwop")

PATH = "/.well-known/openwop"

# Spellings of the largest event a host promises to send; a value outside the bounds is ignored, so a hostile or
# mistaken document can neither make every frame "oversized" nor lift the guard against a runaway frame.
_EVENT_SIZE_KEYS = ("maxEventBytes", "maxEventSizeBytes", "maxEventSize")
_MIN_EVENT_BYTES = 64 * 1024
_MAX_EVENT_BYTES = 16 * 1024 * 1024
_ADVERTISED = ("stable", "experimental")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _flags(doc: Mapping[str, Any], prefix: str = "") -> list[str]:
    """v1 boolean flags (`replay.fork`, `eventPoll`) and v2 capability records (`{status: stable}`) that say yes."""
    found: list[str] = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if value is True:
            found.append(name)
        elif isinstance(value, dict):
            record = cast(dict[str, Any], value)
            if record.get("status") in _ADVERTISED:
                found.append(name)
            elif key != "limits":
                found.extend(_flags(record, f"{name}."))
    return found


@dataclass(frozen=True)
class Discovery:
    """What the host published: `doc` is empty when it published nothing usable; `note` says why."""

    doc: dict[str, Any] = field(default_factory=dict[str, Any])
    note: str | None = None

    @property
    def available(self) -> bool:
        return bool(self.doc)

    @property
    def protocol_version(self) -> str | None:
        """The version the host prefers (v2 `preferredVersion`, v1 `protocolVersion`, else its newest listed)."""
        version = self.doc.get("preferredVersion") or self.doc.get("protocolVersion")
        if isinstance(version, str | int | float) and not isinstance(version, bool):
            return str(version)
        versions = self.doc.get("protocolVersions")
        if isinstance(versions, list) and versions:
            return str(cast(list[Any], versions)[-1])
        return None

    @property
    def protocol_versions(self) -> list[str]:
        """Every version the document names (`protocolVersions`, `protocolVersion`, `preferredVersion`), in order."""
        named: list[Any] = []
        listed = self.doc.get("protocolVersions")
        if isinstance(listed, list):
            named.extend(cast(list[Any], listed))
        named += [self.doc.get("protocolVersion"), self.doc.get("preferredVersion")]
        out: list[str] = []
        for value in named:
            if major(value) is not None and str(value) not in out:
                out.append(str(value))
        return out

    @property
    def majors(self) -> list[int]:
        """The protocol majors the host says it serves, ascending (empty when it names none)."""
        return sorted({m for v in self.protocol_versions if (m := major(v)) is not None and m > 0})

    @property
    def limits(self) -> dict[str, int]:
        raw = self.doc.get("limits")
        if not isinstance(raw, dict):
            return {}
        return {str(k): n for k, v in cast(dict[str, Any], raw).items() if (n := _int(v)) is not None}

    @property
    def max_event_bytes(self) -> int | None:
        """The largest event the host says it sends, when it says so within sane bounds."""
        limits = self.limits
        for key in _EVENT_SIZE_KEYS:
            value = limits.get(key)
            if value is not None and _MIN_EVENT_BYTES <= value <= _MAX_EVENT_BYTES:
                return value
        return None

    def says(self, *path: str) -> bool | None:
        """What the document says of a feature (`says("replay", "fork")`): True, False, or None when silent."""
        node: Any = self.doc
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = cast(dict[str, Any], node)[key]
        if isinstance(node, bool):
            return node
        if isinstance(node, dict):
            status = cast(dict[str, Any], node).get("status")
            return status in _ADVERTISED if isinstance(status, str) else None
        return None

    def host_info(self) -> HostInfo:
        return HostInfo(
            available=self.available,
            protocol_version=self.protocol_version,
            protocol_versions=self.protocol_versions,
            capabilities=sorted(_flags(self.doc)),
            limits=self.limits,
            note=self.note,
        )


async def read_discovery(http: HttpClient, headers: Mapping[str, str]) -> Discovery:
    """The host's discovery document. An error answer gives an empty one (with a note); a host that cannot be
    reached raises `TransportError`, so that the caller does not keep "nothing published" for a host that was down.
    """
    try:
        doc = await http.json(
            "GET", PATH, action="read the host's discovery document", headers=headers, retry=False, anonymous=True
        )
    except TransportError:
        raise
    except BackendError as exc:
        log.info("no discovery document (%s)", exc)
        what = "publishes no discovery document" if exc.status == 404 else "did not serve its discovery document"
        return Discovery(note=f"the host {what} (HTTP {exc.status})")
    if not isinstance(doc, dict) or not doc:
        return Discovery(note="the host's discovery document is empty or not a JSON object")
    return Discovery(doc=cast(dict[str, Any], doc))
