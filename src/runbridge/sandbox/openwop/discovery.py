"""The discovery document, `GET /.well-known/openwop`, in the shape of each protocol version (docs/backends/openwop.md).

v1 is an open document of flags and limits (`replay.fork`, `eventPoll`, `limits.clarificationRounds`), as the 1.x
client reads it. v2 is closed: version metadata at the root plus one capability record per advertised family,
`{status, since, witness, ...facets}`; the 2.x client sees a family only when its record has that shape, so a v1
document served to it advertises nothing. A host serving both answers the v2 document to a request that asks for
v2 (`OpenWOP-Version: 2.x`) and the v1 one otherwise; a v2-only host always answers the v2 one.
"""

from __future__ import annotations

from typing import Any

from .variants import HostVariant
from .versions import discovery_versions

__all__ = ["discovery_v1", "discovery_v2", "serves_v2_document"]

_ENVELOPES = ["clarification.request"]
_SCHEMA_VERSIONS = {"clarification.request": 1}
_KINDS = ["approval", "clarification", "external-event", "custom", "credential"]
_STREAM_MODES = ["updates", "debug"]


def _limits(v: HostVariant) -> dict[str, int]:
    limits = {"clarificationRounds": 3, "schemaRounds": 2, "envelopesPerTurn": 5, "maxNodeExecutions": 200}
    if v.max_event_bytes is not None:
        limits["maxEventBytes"] = v.max_event_bytes
    return limits


def serves_v2_document(v: HostVariant, asked: str | None) -> bool:
    """Whether a discovery request (its `OpenWOP-Version` header, if any) gets the v2 document from this host."""
    if "2.0" not in v.protocol_versions:
        return False
    return "1.0" not in v.protocol_versions or (asked or "").strip().split(".", 1)[0] == "2"


def discovery_v1(v: HostVariant) -> dict[str, Any]:
    return {
        **discovery_versions(v),
        "supportedEnvelopes": _ENVELOPES,
        "schemaVersions": _SCHEMA_VERSIONS,
        "limits": _limits(v),
        "engineVersion": 1,
        "eventLogSchemaVersion": 2,
        "host": {"name": "runbridge-sandbox", "variant": v.name},
        # What this host *claims*; like the real one, it forks either way (docs/backends/openwop.md).
        "replay": {"fork": v.discovery_says_fork},
        "streamModes": _STREAM_MODES,
        "interrupts": {"kinds": _KINDS, "tokens": v.expose_interrupt_token},
        "idempotency": {"supported": True},
        "eventPoll": v.event_poll,
    }


def _record(**facets: Any) -> dict[str, Any]:
    """A v2 capability record: maturity, the version it appeared in, how a client can witness it, its facets."""
    return {"status": "stable", "since": "2.0", "witness": "witnessable-unaided", **facets}


def discovery_v2(v: HostVariant) -> dict[str, Any]:
    return {
        **discovery_versions(v),
        "engineVersion": 1,
        "eventLogSchemaVersion": 2,
        "implementation": {"name": "runbridge-sandbox", "variant": v.name},
        "supportedEnvelopes": _record(envelopes=_ENVELOPES),
        "schemaVersions": _record(versions=_SCHEMA_VERSIONS),
        "limits": _record(**_limits(v)),
        # The record is there either way; its `fork` facet is what the host claims (it forks regardless).
        "replay": _record(fork=v.discovery_says_fork),
        "interrupt": _record(kinds=_KINDS, tokens=v.expose_interrupt_token),
        "idempotency": _record(),
        "eventLog": _record(poll=v.event_poll, streamModes=_STREAM_MODES),
    }
