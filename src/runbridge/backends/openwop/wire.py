"""Reading OpenWOP's wire shapes, tolerant of the ways real hosts differ (docs/backends/openwop.md).

Hosts disagree on `sequence`/`seq`, `payload`/`data`, the first sequence (0 or 1), batched frames, and whether the
`data:` of a frame is a RunEventDoc or a bare chunk. Everything that reads a frame goes through here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...core.models import RunStatus, Usage
from .._wire import parse_time

__all__ = ["RawEvent", "parse_docs", "parse_frame", "resolve_link", "run_status", "usage_of"]

log = logging.getLogger("runbridge.openwop")

_STATUS = {
    "pending": RunStatus.QUEUED,
    "queued": RunStatus.QUEUED,
    "running": RunStatus.RUNNING,
    "cancelling": RunStatus.RUNNING,
    "resuming": RunStatus.RUNNING,
    "waiting-approval": RunStatus.WAITING,
    "waiting-input": RunStatus.WAITING,
    "waiting-external": RunStatus.WAITING,
    "suspended": RunStatus.WAITING,
    "paused": RunStatus.PAUSED,
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "canceled": RunStatus.CANCELLED,
}


def run_status(raw: object) -> RunStatus:
    """OpenWOP status → normalised; an unknown status is `unknown` (clients must treat it as terminal)."""
    return _STATUS.get(str(raw), RunStatus.UNKNOWN)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class RawEvent:
    """One RunEventDoc, whichever spelling the host used."""

    __slots__ = ("doc", "node_id", "payload", "run_id", "seq", "timestamp", "type")

    def __init__(self, doc: dict[str, Any], *, fallback_type: str, fallback_seq: int | None, run_id: str) -> None:
        self.doc = doc
        self.type = str(doc.get("type") or fallback_type)
        seq = _int(doc.get("sequence"))
        self.seq = seq if seq is not None else _int(doc.get("seq"))
        if self.seq is None:
            self.seq = fallback_seq
        payload = doc.get("payload", doc.get("data"))
        self.payload: dict[str, Any] = payload if isinstance(payload, dict) else {}
        self.run_id = str(doc.get("runId") or run_id)
        node = doc.get("nodeId") or self.payload.get("nodeId")
        self.node_id: str | None = str(node) if node else None
        self.timestamp = parse_time(doc.get("timestamp"))


def parse_frame(event: str, data: str, frame_id: str, *, run_id: str) -> list[RawEvent]:
    """The events in one SSE frame: none for an unreadable frame (logged, skipped), several for a batch."""
    try:
        body: Any = json.loads(data)
    except json.JSONDecodeError:
        log.warning("skipped a malformed event frame (id %r, %d bytes)", frame_id, len(data))
        return []
    fallback_seq = _int(frame_id)
    docs = body if isinstance(body, list) else [body]
    events: list[RawEvent] = []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if "type" not in doc and ("chunk" in doc or event == "ai.message.chunk"):
            # Messages-mode frames carry the chunk payload itself, not a RunEventDoc.
            doc = {"type": "output.chunk", "payload": doc, "runId": doc.get("runId", run_id)}
        events.append(RawEvent(doc, fallback_type=event, fallback_seq=fallback_seq, run_id=run_id))
    return events


def parse_docs(docs: Iterable[object], *, run_id: str) -> list[RawEvent]:
    """The RunEventDocs of a poll answer (anything that is not an object is skipped)."""
    return [RawEvent(d, fallback_type="", fallback_seq=None, run_id=run_id) for d in docs if isinstance(d, dict)]


def resolve_link(base_url: str, link: object) -> str | None:
    """A link the host gave (`eventsUrl`) as a path or URL to request, or None when it must not be followed.

    Absolute links are followed only on the profile's own origin: every request carries the credential. Hosts
    mounted under a path prefix (`https://gateway/openwop`) write relative links two ways: origin-relative with the
    prefix (`/openwop/v1/runs/r/events`, RFC 3986), made absolute here; or relative to their own root
    (`/v1/runs/r/events`, a host unaware of its mount), left to be joined to the base URL, prefix included.
    """
    if not isinstance(link, str) or not link:
        return None
    base, target = urlsplit(base_url), urlsplit(link)
    if target.scheme or target.netloc:
        same = (target.scheme.lower(), target.netloc.lower()) == (base.scheme.lower(), base.netloc.lower())
        return link if same else None
    prefix = base.path.rstrip("/")
    if prefix and (target.path == prefix or target.path.startswith(prefix + "/")):
        return urlunsplit((base.scheme, base.netloc, target.path, target.query, ""))
    return link


def usage_of(payload: dict[str, Any]) -> Usage | None:
    """`provider.usage` payloads, and `meta.usage` on chunks (camelCase token counts)."""
    source = payload.get("meta", {}).get("usage") if isinstance(payload.get("meta"), dict) else None
    source = source if isinstance(source, dict) else payload
    inputs = _int(source.get("inputTokens", source.get("promptTokens")))
    outputs = _int(source.get("outputTokens", source.get("completionTokens")))
    if inputs is None and outputs is None:
        return None
    total = _int(source.get("totalTokens")) or (inputs or 0) + (outputs or 0)
    cost = source.get("costEstimateUsd")
    return Usage(
        input_tokens=inputs or 0,
        output_tokens=outputs or 0,
        total_tokens=total,
        cost_usd=float(cost) if isinstance(cost, int | float) else None,
    )
