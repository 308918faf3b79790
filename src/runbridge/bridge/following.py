"""One call's watch over one run (`Follow`), and the report it ends with."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from anyio.streams.memory import MemoryObjectReceiveStream

from ..core.models import Gate, Run, RunEvent, RunStatus, Usage
from ..core.protocols import RunsAPI
from .actions import offered_actions
from .app import App
from .caller import Caller
from .results import RunReport, fit_budget, gate_view, next_step

__all__ = ["Follow", "report"]


@dataclass
class Follow:
    """One call's watch over one run."""

    app: App
    caller: Caller
    profile: str
    run_id: str
    backend: RunsAPI
    wait: float
    cursor: str | None = None
    target_id: str | None = None
    events: int = 0
    decision: str | None = None
    status: RunStatus = RunStatus.RUNNING
    usage: Usage | None = None  # the run's total: what earlier calls recorded, plus what this one sees
    outputs: Any = None
    error: str | None = None
    error_code: str | None = None
    note: str | None = None
    step_total: int | None = None
    progress_floor: float = 0.0
    source: Literal["stream", "status", "lost"] = "stream"
    said: str | None = None  # a decision taken before following began (gates_respond, a 2026 retry): told first
    _waiting: Gate | None = field(default=None, repr=False)
    _ahead: deque[RunEvent | Exception] = field(default_factory=deque[RunEvent | Exception], repr=False)
    _receive: MemoryObjectReceiveStream[RunEvent | Exception] | None = field(default=None, repr=False)


def report(f: Follow) -> RunReport:
    """Where the run stands for this call, with what to do next (kept within the result budget)."""
    done = f.status.terminal
    waiting = gate_view(f._waiting, f.profile) if f._waiting is not None else None
    offers = offered_actions(f.app.settings, f.backend, Run(run_id=f.run_id, target_id=f.target_id, status=f.status))
    nxt = next_step(
        f.run_id,
        done=done,
        waiting=waiting,
        lost=f.source == "lost",
        status=f.status if f.status is RunStatus.PAUSED else None,
        offers=offers,
    )
    report = RunReport(
        profile=f.profile,
        run_id=f.run_id,
        target_id=f.target_id,
        status=f.status,
        done=done,
        decision=f.decision,  # type: ignore[arg-type]
        waiting_for=waiting,
        outputs=f.outputs,
        error=f.error,
        error_code=f.error_code,
        usage=f.usage,
        events_seen=f.events,
        cursor=f.cursor,
        source=f.source,
        note=f.note,
        next=nxt,
    )
    return fit_budget(report, f.app.settings.result_budget_chars)
