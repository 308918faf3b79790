"""What the Synapse handlers of one app share: settings, the wire projection, and Synapse run ids.

Synapse names a run `run_<orchestration id>_<epoch ms>` (docs/backends/orchestrations.md); the engine has its own ids,
so the app keeps the mapping (and bumps the milliseconds when two runs start within the same one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..context import SandboxContext
from ..errors import RunNotFound
from ..runs import RunRecord
from .project import Projector, RunWire
from .settings import OrchestrationsSettings

__all__ = ["OrchestrationsState"]


@dataclass
class OrchestrationsState:
    ctx: SandboxContext
    settings: OrchestrationsSettings
    projector: Projector = field(init=False)
    _runs: dict[str, tuple[str, int]] = field(default_factory=dict[str, tuple[str, int]])
    _last_ms: int = 0

    def __post_init__(self) -> None:
        self.projector = Projector(self.settings)

    @property
    def ping_seconds(self) -> float:
        override = self.ctx.keepalive_seconds
        return override if override is not None else self.settings.ping_seconds

    @property
    def keepalive_seconds(self) -> float:
        override = self.ctx.keepalive_seconds
        return override if override is not None else self.settings.keepalive_seconds

    def start(self, orch_id: str, message: str, options: dict[str, Any] | None) -> tuple[str, RunRecord]:
        """Start a run of `orch_id` (WorkflowNotFound when unknown); its Synapse id and engine record."""
        inputs: dict[str, Any] = {"message": message}
        if options:
            inputs["_sandbox"] = options
        self.ctx.engine.workflow(orch_id)  # refuse an unknown id before minting anything
        epoch_ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = epoch_ms
        wire_id = f"run_{orch_id}_{epoch_ms}"
        run = self.ctx.engine.start_run(orch_id, inputs, meta={"synapse_run_id": wire_id})
        self._runs[wire_id] = (run.id, epoch_ms)
        return wire_id, run

    def run(self, wire_id: str) -> RunRecord:
        """The engine record of a Synapse run id; RunNotFound with Synapse's own wording."""
        known = self._runs.get(wire_id)
        if known is None:
            raise RunNotFound(f"Run '{wire_id}' not found")
        return self.ctx.engine.get_run(known[0])

    def wire(self, wire_id: str, run: RunRecord) -> RunWire:
        return self.projector.sync(run, wire_id, self._runs[wire_id][1])

    async def until_stop(self, wire_id: str, run: RunRecord, start: int) -> RunWire:
        """Wait until the run's wire log holds a stop (a gate or the end) at or after `start`."""
        while True:
            wire = self.wire(wire_id, run)
            if any(e.stop for e in wire.events[start:]) or (run.finished and wire.consumed == len(run.events)):
                return wire
            await run.wait_beyond(wire.consumed)

    async def idle(self, run: RunRecord, count: int, seconds: float) -> bool:
        """Wait up to `seconds` for the run's engine log to grow past `count`; False when the time ran out."""
        with anyio.move_on_after(seconds) as waited:
            await run.wait_beyond(count)
        return not waited.cancelled_caught
