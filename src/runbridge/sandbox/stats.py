"""Counters a test reads to assert what the backend saw ("one backend run per start").

Written on the server's event loop, read from the test's thread: a lock keeps snapshots consistent.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Thread-safe counters: named ones (`runs_created`, `resolves`, `cancels`, `forks`, ...) and requests by route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()

    def incr(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1

    def response(self, status: int) -> None:
        with self._lock:
            self._statuses[str(status)] += 1

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, Any]:
        """`{runs_created, forks, resolves, cancels, stream_connections, stream_drops, requests{}, statuses{}}`."""
        with self._lock:
            names = ("runs_created", "forks", "resolves", "cancels", "stream_connections", "stream_drops")
            out: dict[str, Any] = {n: self._counts[n] for n in names}
            out.update({n: v for n, v in self._counts.items() if n not in out})
            out["requests"] = dict(self._requests)
            out["statuses"] = dict(self._statuses)
            return out

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._requests.clear()
            self._statuses.clear()
