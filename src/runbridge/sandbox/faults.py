"""Fault injection: what a sandbox server breaks on purpose, settable from Python and over HTTP.

Two kinds of faults:

* **HTTP bursts**: the next N matching requests answer 429 or 503 with `Retry-After` (optionally only for one
  method and/or path prefix); **slow answers**: the next N matching requests are handled at once, but their
  answers wait a while (a client that times out meanwhile never sees what the server did).
* **Stream faults** (`StreamFaults`), per server (the default for every run) or per run (`FaultPlan.for_run`, or
  `inputs["_sandbox"]` at creation): drop the connection abruptly after N event frames (a list: the first
  connection to a run drops after `drop_after[0]` frames, the second after `drop_after[1]`, ...), sleep before
  every frame, insert one malformed frame or one oversized frame before the event whose wire sequence is K, or
  send only keep-alives for a while before the event K. The one-shot faults fire once per run, so a client that
  reconnects past them sees a clean stream.

The plan is shared between the server's loop and the test's thread, so every access takes a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, cast

__all__ = ["Burst", "FaultPlan", "Slow", "StreamFaultState", "StreamFaults"]


@dataclass
class StreamFaults:
    """Stream faults for a run; sequences (`*_at`) are the wire sequence numbers the client sees in `id:`."""

    drop_after: list[int] = field(default_factory=list[int])
    slow_frame_seconds: float = 0.0
    malformed_at: int | None = None
    oversized_at: int | None = None
    oversized_bytes: int = 2_097_152
    quiet_at: int | None = None
    quiet_seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, ignore_unknown: bool = False) -> StreamFaults:
        """Build from JSON-ish data; ValueError names the bad key."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown and not ignore_unknown:
            raise ValueError(f"unknown stream fault keys: {sorted(unknown)}")
        out = cls()
        for key in known & set(data):
            value = data[key]
            if key == "drop_after":
                raw = [value] if isinstance(value, int) else value
                if not isinstance(raw, list) or not all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in cast(list[Any], raw)
                ):
                    raise ValueError("drop_after must be a non-negative integer or a list of them")
                out.drop_after = list(cast(list[int], raw))
            elif key in ("malformed_at", "oversized_at", "quiet_at"):
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ValueError(f"{key} must be an integer or null")
                setattr(out, key, value)
            elif key == "oversized_bytes":
                if not isinstance(value, int) or value < 1:
                    raise ValueError("oversized_bytes must be a positive integer")
                out.oversized_bytes = value
            else:
                if not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{key} must be a non-negative number")
                setattr(out, key, float(value))
        return out

    def is_empty(self) -> bool:
        return self == StreamFaults()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Burst:
    """The next `remaining` matching requests fail with `status` (429 or 503) and `Retry-After: retry_after`."""

    status: int
    remaining: int
    retry_after: float = 1.0
    method: str | None = None
    path_prefix: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Burst:
        status = data.get("status", 429)
        count = data.get("count", 1)
        retry_after = data.get("retry_after", 1.0)
        if status not in (429, 503):
            raise ValueError("a burst's status must be 429 or 503")
        if not isinstance(count, int) or count < 0:
            raise ValueError("a burst's count must be a non-negative integer")
        if not isinstance(retry_after, int | float) or retry_after < 0:
            raise ValueError("a burst's retry_after must be a non-negative number of seconds")
        method, prefix = data.get("method"), data.get("path_prefix")
        return cls(
            status=int(status),
            remaining=count,
            retry_after=float(retry_after),
            method=str(method) if method else None,
            path_prefix=str(prefix) if prefix else None,
        )


@dataclass
class Slow:
    """The answers to the next `remaining` matching requests wait `seconds` before they are sent."""

    seconds: float
    remaining: int
    method: str | None = None
    path_prefix: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


class StreamFaultState:
    """The faults of one run as they are used up by its successive stream connections."""

    def __init__(self, faults: StreamFaults) -> None:
        self.faults = faults
        self._lock = threading.Lock()
        self._connections = 0
        self._fired: set[str] = set()

    def next_drop(self) -> int | None:
        """The drop point of the connection opening now (None: this connection does not drop)."""
        with self._lock:
            index = self._connections
            self._connections += 1
            return self.faults.drop_after[index] if index < len(self.faults.drop_after) else None

    def _once(self, name: str, at: int | None, sequence: int) -> bool:
        with self._lock:
            if at is None or at != sequence or name in self._fired:
                return False
            self._fired.add(name)
            return True

    def malformed(self, sequence: int) -> bool:
        return self._once("malformed", self.faults.malformed_at, sequence)

    def oversized(self, sequence: int) -> int | None:
        return self.faults.oversized_bytes if self._once("oversized", self.faults.oversized_at, sequence) else None

    def quiet(self, sequence: int) -> float:
        return self.faults.quiet_seconds if self._once("quiet", self.faults.quiet_at, sequence) else 0.0


class FaultPlan:
    """Every fault one sandbox server injects. Safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stream = StreamFaults()
        self._bursts: list[Burst] = []
        self._slow: list[Slow] = []
        self._runs: dict[str, StreamFaults] = {}
        self._states: dict[str, StreamFaultState] = {}

    # -- configuration -----------------------------------------------------------------------------------------

    def set_stream(self, faults: StreamFaults | None = None, **values: Any) -> None:
        """Set the default stream faults of every run (a fresh start for runs already streamed)."""
        new = faults if faults is not None else StreamFaults.from_dict(values)
        with self._lock:
            self._stream = new
            self._states.clear()

    def for_run(self, run_id: str, faults: StreamFaults | None = None, **values: Any) -> None:
        """Set the stream faults of one run, overriding the default and its `_sandbox` input."""
        new = faults if faults is not None else StreamFaults.from_dict(values)
        with self._lock:
            self._runs[run_id] = new
            self._states.pop(run_id, None)

    def burst(
        self,
        status: int = 429,
        count: int = 1,
        *,
        retry_after: float = 1.0,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Make the next `count` matching requests fail with `status` (429 or 503)."""
        burst = Burst.from_dict(
            {"status": status, "count": count, "retry_after": retry_after, "method": method, "path_prefix": path_prefix}
        )
        with self._lock:
            self._bursts.append(burst)

    def slow(
        self, seconds: float, count: int = 1, *, method: str | None = None, path_prefix: str | None = None
    ) -> None:
        """Make the answers to the next `count` matching requests wait `seconds` before they are sent."""
        if seconds < 0 or count < 0:
            raise ValueError("a slow answer needs non-negative seconds and count")
        with self._lock:
            self._slow.append(Slow(seconds, count, method, path_prefix))

    def clear(self) -> None:
        with self._lock:
            self._stream = StreamFaults()
            self._bursts.clear()
            self._slow.clear()
            self._runs.clear()
            self._states.clear()

    def configure(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a JSON document (the `POST /_sandbox/faults` body); ValueError when it is malformed.

        `{"clear": true, "stream": {...StreamFaults}, "bursts": [{"status", "count", "retry_after", "method",
        "path_prefix"}], "runs": {"<run id>": {...StreamFaults}}}`; every key is optional.
        """
        unknown = set(data) - {"clear", "stream", "bursts", "runs"}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        stream = StreamFaults.from_dict(_mapping(data["stream"], "stream")) if "stream" in data else None
        raw_bursts = data.get("bursts", [])
        if not isinstance(raw_bursts, list):
            raise ValueError("bursts must be a list")
        bursts = [Burst.from_dict(_mapping(b, "a burst")) for b in cast(list[Any], raw_bursts)]
        runs = {
            str(k): StreamFaults.from_dict(_mapping(v, "a run's faults"))
            for k, v in _mapping(data.get("runs", {}), "runs").items()
        }
        if data.get("clear"):
            self.clear()
        if stream is not None:
            self.set_stream(stream)
        with self._lock:
            self._bursts.extend(bursts)
        for run_id, faults in runs.items():
            self.for_run(run_id, faults)
        return self.describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "stream": self._stream.to_dict(),
                "bursts": [asdict(b) for b in self._bursts if b.remaining > 0],
                "slow": [asdict(w) for w in self._slow if w.remaining > 0],
                "runs": {k: v.to_dict() for k, v in self._runs.items()},
            }

    # -- use -------------------------------------------------------------------------------------------------

    def take_burst(self, method: str, path: str) -> Burst | None:
        """The burst that answers this request, if any (using up one of its requests)."""
        with self._lock:
            for burst in self._bursts:
                if burst.remaining > 0 and burst.matches(method, path):
                    burst.remaining -= 1
                    return burst
            self._bursts = [b for b in self._bursts if b.remaining > 0]
            return None

    def take_slow(self, method: str, path: str) -> float:
        """Seconds this request's answer waits before it is sent (using up one of a slow fault's requests)."""
        with self._lock:
            for slow in self._slow:
                if slow.remaining > 0 and slow.matches(method, path):
                    slow.remaining -= 1
                    return slow.seconds
            return 0.0

    def stream_state(self, run_id: str, run_options: Mapping[str, Any] | None = None) -> StreamFaultState:
        """The run's fault state, created on its first stream connection from the most specific setting."""
        with self._lock:
            state = self._states.get(run_id)
            if state is None:
                faults = self._runs.get(run_id)
                if faults is None and run_options and set(run_options) & {f.name for f in fields(StreamFaults)}:
                    try:
                        faults = StreamFaults.from_dict(run_options, ignore_unknown=True)
                    except ValueError:
                        faults = None  # the family validated them at creation; a bad value means "no faults"
                state = StreamFaultState(faults if faults is not None else self._stream)
                self._states[run_id] = state
            return state


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an object")
    return cast(Mapping[str, Any], value)
