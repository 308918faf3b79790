"""One run's state and its append-only log, with a cheap wake-up for everyone waiting on it.

Waiters share one `anyio.Event` per log generation: each append sets it and installs a fresh one, so any number of
subscribers sleep without polling and all wake on the next event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio

from .events import TERMINAL_STATUSES, EngineEvent, EventType, RunStatus, iso_now
from .model import GateSpec, Step, Workflow

__all__ = ["OpenGate", "RunRecord"]


@dataclass
class OpenGate:
    """A gate the run is waiting on; `answered` wakes the run when a human resolves it."""

    node_id: str
    interrupt_id: str
    key: str
    spec: GateSpec
    round: int
    requested_at: str
    answered: anyio.Event = field(default_factory=anyio.Event)
    value: Any = None
    outcome: str = ""


class RunRecord:
    """Everything the engine knows about one run. Mutated only on the server's event loop."""

    def __init__(
        self,
        run_id: str,
        workflow: Workflow,
        inputs: Mapping[str, Any],
        *,
        options: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        max_cost_usd: float | None = None,
    ) -> None:
        self.id = run_id
        self.workflow = workflow
        self.inputs: dict[str, Any] = dict(inputs)
        # Sandbox knobs a client set through `inputs["_sandbox"]` (per-run faults, cost limit).
        self.options: dict[str, Any] = dict(options or {})
        # Whatever the wire family wants to keep with the run (tags, metadata, tenant ...); the engine ignores it.
        self.meta: dict[str, Any] = dict(meta or {})
        self.max_cost_usd = max_cost_usd
        self.status: RunStatus = "pending"
        self.created_at = iso_now()
        self.started_at: str | None = None
        self.completed_at: str | None = None
        self._t0 = datetime.now().astimezone()
        self.events: list[EngineEvent] = []
        self.node_states: dict[str, str] = {}
        self.current_step: str | None = None
        self.variables: dict[str, Any] = {}
        self.outputs: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.gate: OpenGate | None = None
        self.gate_count = 0
        self.resolved_nodes: set[str] = set()
        self.cancelled_gate_nodes: set[str] = set()
        self.cost_usd = 0.0
        self.source_run_id: str | None = None
        self.fork_mode: str | None = None
        self.fork_from_seq: int | None = None
        self.scope = anyio.CancelScope()
        self._changed = anyio.Event()
        # An operator's pause (OpenWOP `:pause`): taken between steps; `resumed` is set to let the run go on.
        self.pause_requested = False
        self.resumed = anyio.Event()

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def step_total(self) -> int:
        return len(self.workflow.steps)

    def duration_ms(self) -> int:
        return int((datetime.now().astimezone() - self._t0).total_seconds() * 1000)

    def append(
        self, type_: EventType, payload: Mapping[str, Any] | None = None, step: Step | None = None
    ) -> EngineEvent:
        """Add an event to the log and wake every waiter."""
        if self.events and self.events[-1].terminal:
            raise RuntimeError(f"run {self.id} already ended; refusing {type_}")
        index = self.workflow.index_of(step.id) + 1 if step is not None else None
        event = EngineEvent(
            seq=len(self.events),
            type=type_,
            run_id=self.id,
            timestamp=iso_now(),
            payload=dict(payload or {}),
            step_id=step.id if step else None,
            step_name=step.name if step else None,
            step_index=index,
            step_total=self.step_total if step else None,
        )
        self.adopt(event)
        return event

    def adopt(self, event: EngineEvent) -> None:
        """Append an already-built event (a fork copies its source's prefix this way)."""
        self.events.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_beyond(self, count: int) -> None:
        """Return once the log holds more than `count` events, or the run has ended."""
        while len(self.events) <= count and not (self.events and self.events[-1].terminal):
            await self._changed.wait()
