"""One time budget per tool call, which every backend request made for that call (its retries included) respects.

An MCP host gives up on a call after its own timeout (60 s in the official TypeScript SDK, and in most hosts): an
answer that comes later is lost, and with it the run's handle and the next step. So a tool call gets a deadline
when it starts (`Settings.call_budget_seconds`), and the HTTP client never waits past it: an attempt is cut at the
deadline, and a retry is made only while the budget still has room for it. A backend that accepts connections and
never answers is then a clear error inside the budget, not a silence the host times out on.

The budget lives in a context variable, so tasks started for the call (the event-stream reader) share it, and code
that runs outside any tool call (resources, subscriptions, the CLI) has none and keeps the profile's own timeouts.
A task the call leaves running (a Synapse v1 run stream, which outlives the call that opened it) holds the same
budget, which ends with the call: from then on it has none either.
A human's answer to a gate starts the budget afresh (`restart`): the time a person took is not the backend's.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from time import monotonic

__all__ = ["Budget", "call_budget", "current", "for_waiting", "remaining", "restart"]

# What a run tool keeps back from its wait for the report that follows it (one status read at most).
_REPORT_RESERVE = 5.0


@dataclass
class Budget:
    """`seconds` for the whole call, ending at `deadline` (on the `time.monotonic` clock)."""

    seconds: float
    deadline: float
    active: bool = True  # False once the call it belongs to has ended

    def left(self) -> float:
        return self.deadline - monotonic()


_current: ContextVar[Budget | None] = ContextVar("runbridge_call_budget", default=None)


def current() -> Budget | None:
    """The budget of the tool call being served, if any."""
    budget = _current.get()
    return budget if budget is not None and budget.active else None


def remaining() -> float | None:
    """Seconds left in this call's budget (never negative); None outside a tool call."""
    budget = current()
    return None if budget is None else max(0.0, budget.left())


@contextmanager
def call_budget(seconds: float | None) -> Generator[Budget | None]:
    """Serve one tool call within `seconds` (None: no budget)."""
    budget = None if seconds is None else Budget(seconds, monotonic() + seconds)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)
        if budget is not None:
            budget.active = False


def restart() -> None:
    """Start this call's budget afresh (a person answered a gate: what follows is a new stretch of backend work)."""
    budget = current()
    if budget is not None:
        budget.deadline = monotonic() + budget.seconds


def for_waiting(wait: float) -> float:
    """`wait`, shortened so that following a run ends early enough for the report after it to fit in the budget."""
    budget = current()
    if budget is None:
        return wait
    reserve = min(_REPORT_RESERVE, budget.seconds / 5)
    return max(0.0, min(wait, budget.left() - reserve))
