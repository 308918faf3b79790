"""When to try an HTTP call again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RETRY_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a server's own hint (`Retry-After`) wins, within `max_delay`.

    `attempts` counts tries, the first included. `budget` bounds the total time spent waiting, so a storm of 429s
    ends in a clear error instead of a hung tool call.

    A refused connection is a fast, clear signal (nothing listens there, or not yet): it gets at most
    `refused_attempts` tries, `refused_delay` apart and doubling (0.1 s, then 0.2 s), enough for a backend that is
    restarting without making every call to a backend that is off wait seconds.
    """

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 30.0
    budget: float = 60.0
    refused_attempts: int = 3
    refused_delay: float = 0.1

    def delay(self, retry: int, hint: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based)."""
        if hint is not None:
            return max(0.0, min(hint, self.max_delay))
        ceiling = min(self.max_delay, self.base_delay * (2**retry))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311  (jitter, not crypto)

    def refused_tries(self) -> int:
        """How many tries a refused connection gets, the first included (never more than `attempts`)."""
        return max(1, min(self.attempts, self.refused_attempts))

    def refused_pause(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (0-based) after a refused connection."""
        return max(0.0, min(self.max_delay, self.refused_delay * (2**retry)))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
