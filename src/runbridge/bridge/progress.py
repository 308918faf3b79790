"""Backend events → progress notifications a person can read ("step 2/5 Research: calling web_search").

Progress strictly increases with every notification (the MCP rule). With a known step count it runs toward
`total = steps`; otherwise it counts events. Bursts are coalesced: at most one notification per `interval`, the
latest message winning, while gates and the terminal event always go out at once. A heartbeat keeps quiet runs
visibly alive (and resets client timeouts that honour progress).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

from ..core.models import EventKind, RunEvent

__all__ = ["ProgressReporter", "SendProgress", "describe", "words"]

SendProgress = Callable[[float, float | None, str], Awaitable[None]]

_MAX_MESSAGE = 200
_URGENT = frozenset({EventKind.GATE_OPENED, EventKind.RUN_COMPLETED, EventKind.RUN_FAILED, EventKind.RUN_CANCELLED})
_QUIET = frozenset({EventKind.MESSAGE_DELTA, EventKind.REASONING})


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def words(raw_type: str) -> str:
    """A backend's event name as words (`memory.written` → "memory written", `transform_result` → "transform
    result", `agent.toolCalled` → "agent tool called"): what a person reads where no better text was made."""
    spaced = _CAMEL.sub(" ", raw_type)
    return " ".join(re.split(r"[._\-/:\s]+", spaced)).strip().lower() or raw_type


def describe(event: RunEvent, *, step_total: int | None = None) -> str:
    """One line for a person: the step (with its position when known), then what happened."""
    text = event.text if event.text and event.text != event.raw_type else words(event.raw_type)
    step = event.step
    if step is None or not (step.name or step.id):
        message = text
    else:
        name = step.name or step.id or ""
        total = step.total or step_total
        where = f"step {step.index}/{total}" if step.index and total else f"step {step.index}" if step.index else ""
        label = f"{where} {name}".strip()
        if text.startswith(name):
            text = text[len(name) :].strip() or text
        message = f"{label}: {text}" if text != label else label
    message = " ".join(message.split())
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


class ProgressReporter:
    """Turns a run's events into monotonic, coalesced progress notifications through `send`."""

    def __init__(
        self,
        send: SendProgress,
        *,
        step_total: int | None = None,
        interval: float = 0.010,
        start: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`start`: the last value an earlier round of the same call sent (a 2026-era retry carries it on)."""
        self._send = send
        self.step_total = step_total
        self.interval = interval
        self._clock = clock
        self.events = 0
        self.notifications = 0
        self._steps_done = 0
        self._ticks = 0
        self._extra = 0
        self._last_value = start
        self._last_sent_at = float("-inf")
        self._last_message = ""
        self._pending: str | None = None

    @property
    def last_value(self) -> float:
        return self._last_value

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def flush_due_in(self) -> float | None:
        """Seconds until a pending coalesced message should go out; None when nothing is pending."""
        if self._pending is None:
            return None
        return max(0.0, self._last_sent_at + self.interval - self._clock())

    async def on_event(self, event: RunEvent) -> None:
        self.events += 1
        self._ticks += 1
        step = event.step
        if step is not None:
            if step.total:
                self.step_total = step.total
            if step.index:
                done = step.index if event.kind is EventKind.STEP_COMPLETED else step.index - 1
                if done > self._steps_done:
                    self._steps_done, self._ticks = done, 0
        if event.kind in _QUIET and self._pending is not None:
            return  # token deltas never displace a more telling pending message
        message = describe(event, step_total=self.step_total)
        if event.kind in _URGENT or self._clock() - self._last_sent_at >= self.interval:
            await self._emit(message, final=event.kind.terminal)
        else:
            self._pending = message

    async def flush(self) -> None:
        if self._pending is not None:
            await self._emit(self._pending)

    async def heartbeat(self, waited: float) -> None:
        self._ticks += 1
        self._extra += 1
        base = self._last_message or "running"
        await self._emit(f"{base} (still running, quiet for {int(waited)}s)")

    async def note(self, message: str) -> None:
        """A notification that is not an event (e.g. "resuming after your answer")."""
        self._ticks += 1
        self._extra += 1
        await self._emit(message)

    async def _emit(self, message: str, *, final: bool = False) -> None:
        value = self._value(final)
        self._pending = None
        self._last_sent_at = self._clock()
        if "(still running" not in message:
            self._last_message = message
        self.notifications += 1
        # A value never exceeds the total it is sent with. Counting began before the total was known (or an earlier
        # round went past it): the total is then left out rather than contradicted.
        total = float(self.step_total) if self.step_total and value <= self.step_total else None
        await self._send(value, total, message)

    def _value(self, final: bool) -> float:
        total = self.step_total
        if total and final and self._last_value < total:
            value = float(total)  # the terminal notification lands exactly on the total
        elif total and self._last_value < total:
            # Within a step, creep toward the next whole step without reaching it; and never reach the total
            # before the run has ended (the last step's completion is not the run's end).
            value = min(self._steps_done, total) + 0.99 * (1 - 1 / (1 + self._ticks / 5))
            value = min(value, total - 1e-3)
            if value <= self._last_value:
                value = self._last_value + min(1e-6, (total - self._last_value) / 2)
        else:
            value = float(self.events + self._extra)
        if value <= self._last_value:
            value = self._last_value + 1e-6
        self._last_value = value
        return value
