"""Counters a test reads to assert what the backend saw ("one backend run per start").

Besides counters: `open_streams` (event-stream responses being served now), a request log with arrival times (to
measure how a client spaces its retries) and, per run, the events its streams emitted, each once (the record a
client's view is checked against). Written on the server's event loop, read from the test's thread: a lock keeps
snapshots consistent.

A sandbox may serve for days (`runbridge sandbox`, benchmarks), so what is kept per request and per event is bounded:
the request log holds the most recent `log_size` answers, the emitted-event record the most recent `runs_kept` runs
(at most `events_per_run` events each). Counters never lose anything; `log_dropped`, `runs_dropped` and
`events_dropped` count what the bounds let go.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict, deque
from typing import Any

__all__ = ["Stats"]

_NAMES = ("runs_created", "forks", "resolves", "cancels", "stream_connections", "stream_drops", "open_streams")

LOG_SIZE = 10_000
RUNS_KEPT = 1_000
EVENTS_PER_RUN = 10_000


class Stats:
    """Thread-safe counters: named ones (`runs_created`, `resolves`, `cancels`, `forks`, ...) and requests by route."""

    def __init__(
        self, *, log_size: int = LOG_SIZE, runs_kept: int = RUNS_KEPT, events_per_run: int = EVENTS_PER_RUN
    ) -> None:
        if min(log_size, runs_kept, events_per_run) < 1:
            raise ValueError("the stats bounds must be at least 1")
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._emitted: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._runs_kept = runs_kept
        self._events_per_run = events_per_run

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
                if len(self._log) == self._log.maxlen:
                    self._counts["log_dropped"] += 1
                self._log.append(
                    {"at": time.monotonic() if arrived is None else arrived, "route": route, "status": status}
                )

    def emitted(self, run_id: str, key: object, event_type: str) -> None:
        """A stream or poll of `run_id` sent the event `key` (its sequence or position); repeats are not kept."""
        with self._lock:
            events = self._emitted.get(run_id)
            if events is None:
                if len(self._emitted) >= self._runs_kept:
                    self._emitted.popitem(last=False)
                    self._counts["runs_dropped"] += 1
                events = self._emitted[run_id] = {}
            else:
                self._emitted.move_to_end(run_id)
            name = str(key)
            if name in events:
                return
            if len(events) >= self._events_per_run:
                self._counts["events_dropped"] += 1
                return
            events[name] = event_type

    def emitted_events(self, run_id: str) -> list[tuple[str, str]]:
        """(key, type) of every event the run's streams and polls sent, once each, in the order first sent."""
        with self._lock:
            return list(self._emitted.get(run_id, {}).items())

    def request_log(self) -> list[dict[str, Any]]:
        """`{at, route, status}` per answered request, oldest first (`at`: `time.monotonic()` on arrival); the most
        recent ones only, once more were answered than the log keeps."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, Any]:
        """`{runs_created, forks, resolves, cancels, stream_connections, stream_drops, open_streams, requests{},
        statuses{}}`, plus any other counter (`log_dropped`, ...) that was counted."""
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
