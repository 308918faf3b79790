"""A status only moves forward: a backend that cannot say (`unknown`: Synapse v1 has no run status) never erases
what the store recorded while runbridge followed a run (an end or a wait), and an ended run keeps its outputs, error
and usage. Part of the run store contract: run against each store."""

from __future__ import annotations

import pytest

from runbridge.core.models import Run, RunStatus, Usage
from runbridge.state import RunStore

pytestmark = pytest.mark.anyio

KEPT = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.WAITING]
USED = Usage(input_tokens=3, output_tokens=4, total_tokens=7, cost_usd=0.25)


@pytest.mark.parametrize("known", KEPT)
async def test_an_unknown_status_never_replaces_an_end_or_a_wait(store: RunStore, known: RunStatus) -> None:
    outputs = {"response": "ok", "n": 5}
    await store.update_run("p", "r1", status=known, error="boom", outputs=outputs, usage=USED, target_id="wf")
    record, _ = await store.observe("p", Run(run_id="r1", status=RunStatus.UNKNOWN))
    await store.update_run("p", "r1", status=RunStatus.UNKNOWN)
    await store.record_run("p", Run(run_id="r1", status=RunStatus.UNKNOWN))
    observed = await store.observe_run("p", "r1", status=RunStatus.UNKNOWN)
    again = await store.get_run("p", "r1")
    assert again is not None
    assert (record.status, observed.status, again.status) == (known, known, known)
    assert (again.outputs, again.error, again.usage, again.target_id) == (outputs, "boom", USED, "wf")
    assert [r.run_id for r in (await store.list_runs("p", status=known)).items] == ["r1"], "listed where it was"


@pytest.mark.parametrize("known", [s for s in KEPT if s.terminal])
async def test_an_ended_run_read_again_without_outputs_keeps_them(store: RunStore, known: RunStatus) -> None:
    await store.update_run("p", "r1", status=known, error="boom", outputs=[1, 2], usage=USED)
    await store.observe("p", Run(run_id="r1", status=known))
    await store.update_run("p", "r1", status=known)
    again = await store.get_run("p", "r1")
    assert again is not None
    assert (again.status, again.outputs, again.error, again.usage) == (known, [1, 2], "boom", USED)


async def test_a_running_run_that_is_lost_reads_unknown(store: RunStore) -> None:
    await store.update_run("p", "r1", status=RunStatus.RUNNING)
    record, _ = await store.observe("p", Run(run_id="r1", status=RunStatus.UNKNOWN))
    assert record.status is RunStatus.UNKNOWN
