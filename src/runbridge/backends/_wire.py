"""Wire helpers every backend family needs alike, so that each adapter reads them the same way."""

from __future__ import annotations

from datetime import datetime

__all__ = ["parse_time"]


def parse_time(raw: object) -> datetime | None:
    """An ISO 8601 timestamp as the backends send it (`Z` for UTC included); None for anything else."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
