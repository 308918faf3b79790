"""Gate claims left behind by a process that died while it answered: taken back, and settled by the backend's word.

A gate being answered is `answering`, leased to the runbridge process answering it (`RunStore.claim_gate`). A
process killed mid-answer never finishes its claim, so wherever runbridge meets a stale one (gates_list,
gates_respond, runs_watch, the gates resource) it takes the claim over, which one process only can do
(`RunStore.take_over`), and asks the backend whether the answer took effect:

- the run no longer waits on that gate (it moved on, waits on another one, or ended): the gate is `answered`;
- it still waits on it: the gate is `open` again, listed, put to the person and answerable;
- the run is gone: the gate is `closed`;
- the backend cannot say (Synapse v1 has no run status): the gate is settled as answered, saying the answer is
  unconfirmed, rather than reopened: that backend would take a second resume of a run that already moved on;
- the backend does not answer now: the claim stays this process's until its lease lapses, and is asked again then.
"""

from __future__ import annotations

import logging

from ..core.errors import NotFoundError, RunbridgeError
from ..core.models import Run, RunStatus
from ..core.protocols import RunsAPI
from ..state import GateRecord, GateState
from .app import App
from .locating import locate

__all__ = ["recover_claims"]

log = logging.getLogger("runbridge.gates")

MOVED_ON = "taken: runbridge stopped while answering, and the run has since moved on"
UNCONFIRMED = (
    "unconfirmed: runbridge stopped while sending this answer, and the backend cannot say whether it arrived; "
    "check the run in the backend's own UI"
)


async def recover_claims(app: App, profile: str | None = None, *, run_id: str | None = None) -> int:
    """Settle the stale claims of a profile (None: every profile), or only those of `run_id`; how many this process
    settled."""
    settled = 0
    for stale in await app.registry.stale_claims(profile):
        if run_id is not None and stale.gate.run_id != run_id:
            continue
        if await _settle(app, stale):
            settled += 1
    return settled


async def _settle(app: App, stale: GateRecord) -> bool:
    profile, gate = stale.gate.profile, stale.gate
    if profile not in app.settings.profiles:
        return False  # a profile no longer configured: nobody here can ask its backend
    taken = await app.registry.take_over(profile, gate.gate_id)
    if taken is None:
        return False  # another process took it over first, or its owner finished it meanwhile
    try:
        _, backend = app.adapters.get(profile)
        if not isinstance(backend, RunsAPI):
            return False
        await locate(app.registry, profile, backend, gate.run_id)
        run = await backend.get_run(gate.run_id)
    except NotFoundError:
        await app.registry.finish_gate(profile, gate.gate_id, "closed")
        return True
    except RunbridgeError as exc:
        log.info("cannot settle gate %s now (%s); it is asked again once its lease lapses", gate.gate_id, exc)
        return False
    state, decision = _outcome(run, gate.gate_id)
    await app.registry.finish_gate(profile, gate.gate_id, state, decision)
    log.info("gate %s of run %s, left answering by a stopped runbridge: %s", gate.gate_id, gate.run_id, state)
    return True


def _outcome(run: Run, gate_id: str) -> tuple[GateState, str | None]:
    """The gate's new state (and decision) from where its run is now."""
    if run.status is RunStatus.UNKNOWN:
        return "answered", UNCONFIRMED
    if run.status is RunStatus.WAITING and (run.open_gate is None or run.open_gate.gate_id == gate_id):
        return "open", None  # the answer never arrived (a run waiting on a gate it does not name waits on this one)
    return "answered", MOVED_ON
