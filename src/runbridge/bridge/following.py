"""The run as one call follows it (`FollowedRun`): what the call has learned so far, changed only through what
happened to the run, and the report the call ends with."""

from __future__ import annotations

from typing import Any, Literal

from ..core.config import Settings
from ..core.models import EventKind, Gate, Run, RunEvent, RunStatus, Usage
from .actions import offered_actions
from .paused import PAUSED_NOTE
from .results import RunReport, fit_budget, gate_view, next_step

__all__ = ["FollowedRun", "answered_note"]

Source = Literal["stream", "status", "lost"]


def answered_note(decision: str) -> str:
    """The progress message for a human's answer that the backend took ("rejected: …", never "accepted" for it)."""
    going = "resuming the run" if decision == "accepted" else "the answer was sent; following the run"
    return f"{decision}: {going}"


class FollowedRun:
    """What one call knows of the run it follows: where it stands, what it produced, where the stream is, and the
    gate it waits on. The call's own terms (`wait`, `step_total`, `progress_floor`) travel with it, as a 2026-era
    retry needs them to continue."""

    def __init__(
        self,
        profile: str,
        run_id: str,
        *,
        wait: float,
        cursor: str | None = None,
        target_id: str | None = None,
        events: int = 0,
        decision: str | None = None,
        said: str | None = None,
        step_total: int | None = None,
        progress_floor: float = 0.0,
    ) -> None:
        self.profile = profile
        self.run_id = run_id
        self.target_id = target_id
        self.wait = wait
        self.step_total = step_total
        self.progress_floor = progress_floor
        self.cursor = cursor
        self.events = events  # seen by this call and the calls it continues
        self.decision = decision
        self.said = said  # a decision taken before following began (gates_respond, a 2026 retry): told first
        self.status = RunStatus.RUNNING
        self.usage: Usage | None = None  # the run's total: what earlier calls recorded, plus what this one sees
        self.outputs: Any = None
        self.error: str | None = None
        self.error_code: str | None = None
        self.note: str | None = None
        self.source: Source = "stream"
        self.waiting: Gate | None = None
        self.unsaved: list[RunEvent] = []  # read, not stored with the run yet

    # -- what happened -------------------------------------------------------------------------------------------

    def recalled(self, status: RunStatus, usage: Usage | None) -> None:
        """What runbridge recorded of the run before this call: its usage so far, and its end if it ended (an
        ended run stays ended, whatever this call manages to read)."""
        if usage is not None:
            self.usage = usage
        if status.terminal:
            self.status = status

    def saw(self, event: RunEvent) -> None:
        """One more event: counted, its position kept as the cursor, its usage added, kept for the store."""
        self.events += 1
        self.unsaved.append(event)
        if event.seq:
            self.cursor = event.seq
        if event.usage is not None:
            self.usage = event.usage if self.usage is None else self.usage + event.usage

    def take_unsaved(self) -> list[RunEvent]:
        batch, self.unsaved = self.unsaved, []
        return batch

    def ended_with(self, event: RunEvent) -> None:
        """The run's terminal event: its status, and its outputs or its error; its note, if any (what the backend
        said for the person with the end: a quota running low, the agent's warnings), becomes the result's note."""
        kind = event.kind
        self.status = kind.terminal_status or RunStatus.UNKNOWN
        if event.from_status:
            self.source = "status"
        data = event.data
        if event.note and self.note is None:
            self.note = event.note
        if kind is EventKind.RUN_COMPLETED:
            self.outputs = data.get("outputs", data.get("output"))
        else:
            err = data.get("error")
            self.error = (err.get("message") if isinstance(err, dict) else err) or event.text
            self.error_code = err.get("code") if isinstance(err, dict) else None

    def ended_as_read(self, run: Run, note: str) -> None:
        """The run's end, read from its status rather than its events."""
        self.status, self.source, self.outputs, self.error = run.status, "status", run.outputs, run.error
        self.usage = run.usage or self.usage
        self.note = note

    def ended_as_recorded(self, status: RunStatus, outputs: Any, error: str | None, note: str) -> None:
        """The run's end as runbridge recorded it, where the backend can no longer say."""
        self.status, self.outputs, self.error, self.note = status, outputs, error, note

    def running(self) -> None:
        self.status = RunStatus.RUNNING

    def paused(self, *, from_status: bool = False) -> None:
        """Paused by an operator (not a gate): nothing comes until it is resumed in the backend."""
        self.status, self.note = RunStatus.PAUSED, PAUSED_NOTE
        if from_status:
            self.source = "status"

    def lost(self, note: str, *, unknown: bool = False) -> None:
        """The stream stopped before the end; `unknown`: nobody can say where the run is."""
        self.note = note
        if unknown:
            self.status, self.source = RunStatus.UNKNOWN, "lost"

    def waits(self) -> None:
        """The run waits at a gate (about to be put to the human)."""
        self.status = RunStatus.WAITING

    def waits_on(self, gate: Gate, note: str | None = None, *, decision: str | None = None) -> None:
        """The run waits on `gate`, which this call leaves open (the result names it); `note` says why."""
        self.waiting, self.status = gate, RunStatus.WAITING
        if note is not None:
            self.note = note
        if decision is not None:
            self.decision = decision

    def resumed(self, decision: str) -> str:
        """The backend took the human's answer and the run goes on; the progress message that says so."""
        self.waiting, self.status, self.decision = None, RunStatus.RUNNING, decision
        self.said = answered_note(decision)
        return self.said

    def told(self) -> None:
        """The decision taken before following went on was told as progress: not again."""
        self.said = None

    def continuation(self, gate: Gate, progress: float, step_total: int | None) -> dict[str, Any]:
        """What a 2026-era retry needs to continue the same run where this call stopped."""
        return {
            "profile": self.profile,
            "run_id": self.run_id,
            "gate_id": gate.gate_id,
            "cursor": self.cursor,
            "events": self.events,
            "wait": self.wait,
            "target_id": self.target_id,
            "progress": progress,
            "step_total": step_total,
        }

    # -- the report ----------------------------------------------------------------------------------------------

    def report(self, settings: Settings, backend: object) -> RunReport:
        """Where the run stands for this call, with what to do next (kept within the result budget)."""
        done = self.status.terminal
        waiting = gate_view(self.waiting, self.profile) if self.waiting is not None else None
        offers = offered_actions(
            settings, backend, Run(run_id=self.run_id, target_id=self.target_id, status=self.status)
        )
        nxt = next_step(
            self.run_id,
            done=done,
            waiting=waiting,
            lost=self.source == "lost",
            status=self.status if self.status is RunStatus.PAUSED else None,
            offers=offers,
        )
        report = RunReport(
            profile=self.profile,
            run_id=self.run_id,
            target_id=self.target_id,
            status=self.status,
            done=done,
            decision=self.decision,  # type: ignore[arg-type]
            waiting_for=waiting,
            outputs=self.outputs,
            error=self.error,
            error_code=self.error_code,
            usage=self.usage,
            events_seen=self.events,
            cursor=self.cursor,
            source=self.source,
            note=self.note,
            next=nxt,
        )
        return fit_budget(report, settings.result_budget_chars)
