"""Counters a test reads to assert what the backend saw ("one backend run per start").

Besides counters: `open_streams` (event-stream responses being served now), a request log with arrival times (to
measure how a client spaces its retries) and, per run, the events its streams emitted, each once (the record a
client's view is checked against). Written on the server's event loop, read from the test's thread: a lock keeps
snapshots consistent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

__all__ = ["Stats"]

_NAMES = ("runs_created", "forks", "resolves", "cancels", "stream_connections", "stream_drops", "open_streams")


class Stats:
    """Thread-safe counters: named ones (`runs_created`, `resolves`, `cancels`, `forks`, ...) and requests by route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._log: list[dict[str, Any]] = []
        self._emitted: dict[str, dict[str, str]] = {}

    def incr(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1

    def response(self, status: int, *, route: str = "", arrived: float | None = None) -> None:
        """Count an answer's status; with `route`, also log the request (`arrived`: its `time.monotonic()`)."""
        with self._lock:
            self._statuses[str(status)] += 1
            if route:
                self._log.append(
                    {"at": time.monotonic() if arrived is None else arrived, "route": route, "status": status}
                )

    def emitted(self, run_id: str, key: object, event_type: str) -> None:
        """A stream of `run_id` sent the event `key` (its sequence or position); repeats (replays) are not kept."""
        with self._lock:
            self._emitted.setdefault(run_id, {}).setdefault(str(key), event_type)

    def emitted_events(self, run_id: str) -> list[tuple[str, str]]:
        """(key, type) of every event the run's streams sent, once each, in the order first sent."""
        with self._lock:
            return list(self._emitted.get(run_id, {}).items())

    def request_log(self) -> list[dict[str, Any]]:
        """`{at, route, status}` per answered request, in order (`at`: `time.monotonic()` on arrival)."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, Any]:
        """`{runs_created, forks, resolves, cancels, stream_connections, stream_drops, open_streams, requests{},
        statuses{}}`."""
        with self._lock:
            out: dict[str, Any] = {n: self._counts[n] for n in _NAMES}
            out.update({n: v for n, v in self._counts.items() if n not in out})
            out["requests"] = dict(self._requests)
            out["statuses"] = dict(self._statuses)
            return out

    def reset(self) -> None:
        with self._lock:
            open_streams = self._counts["open_streams"]  # a gauge: streams still open stay counted
            self._counts.clear()
            self._counts["open_streams"] = open_streams
            self._requests.clear()
            self._statuses.clear()
            self._log.clear()
            self._emitted.clear()
