"""An orchagent run's state, derived from its events in order: the server has no run status endpoint
(docs/backends/orchagent.md)."""

from __future__ import annotations

from typing import Any

from ...core.models import EventKind, Gate, Run, RunEvent, RunStatus, StepRef, Usage

__all__ = ["RunView"]


class RunView:
    """A run's state, derived from its events in order (there is no status endpoint)."""

    def __init__(self, run_id: str, thread_id: str | None) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.status = RunStatus.QUEUED
        self.events = 0
        self.gate: Gate | None = None
        self.outputs: Any = None
        self.error: str | None = None
        self.error_code: str | None = None
        self.step: StepRef | None = None
        self.usage: Usage | None = None
        self.first: RunEvent | None = None
        self.last: RunEvent | None = None

    def add(self, event: RunEvent) -> None:
        self.events += 1
        self.first = self.first or event
        self.last = event
        if event.raw_type == "run.started" and isinstance(event.data.get("details"), dict):
            thread = event.data["details"].get("thread_id")
            self.thread_id = self.thread_id or (thread if isinstance(thread, str) else None)
        if event.step is not None:
            self.step = event.step
        if event.usage is not None:
            self.usage = event.usage if self.usage is None else self.usage + event.usage
        if event.kind is EventKind.GATE_OPENED and event.gate is not None:
            self.gate, self.status = event.gate, RunStatus.WAITING
        elif event.terminal:
            self.gate, self.status = None, event.kind.terminal_status or RunStatus.UNKNOWN
            if event.kind is EventKind.RUN_COMPLETED:
                self.outputs = event.data.get("outputs")
            else:
                error = event.data.get("error")
                self.error = error.get("message") if isinstance(error, dict) else event.text
                self.error_code = error.get("code") if isinstance(error, dict) else None
        else:
            self.gate, self.status = None, RunStatus.RUNNING  # any later event means the gate was passed

    def run(self) -> Run:
        return Run(
            run_id=self.run_id,
            target_id=self.thread_id,
            status=self.status,
            raw_status=self.last.raw_type if self.last else None,
            created_at=self.first.ts if self.first else None,
            updated_at=self.last.ts if self.last else None,
            outputs=self.outputs,
            error=self.error,
            error_code=self.error_code,
            usage=self.usage,
            current_step=self.step,
            open_gate=self.gate,
            details={"thread_id": self.thread_id, "events": self.events, "derived_from": "event replay"},
        )
