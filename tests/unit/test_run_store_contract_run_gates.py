"""The run store contract, continued: a run's gates are listed from the run, on one profile or across profiles (as
`gates_list run_id=…` without a profile asks), in pages, whatever their state; run against each store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbridge.core.models import Gate
from runbridge.state import RunStore

pytestmark = pytest.mark.anyio

EVERY = ("open", "answering", "answered", "declined", "closed")


def _gate(gate_id: str, run_id: str, opened: int) -> Gate:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=opened)
    return Gate(gate_id=gate_id, run_id=run_id, kind="approval", prompt="Approve?", opened_at=at)


async def test_a_runs_gates_are_listed_on_one_profile_or_across_profiles_in_pages(store: RunStore) -> None:
    await store.record_gate("a", _gate("g1", "run", 1))
    await store.record_gate("b", _gate("g2", "run", 2))
    await store.record_gate("a", _gate("g3", "run", 3))
    await store.record_gate("a", _gate("other", "other-run", 0))
    await store.claim_gate("a", "g3")
    await store.finish_gate("a", "g3", "answered", "accepted")
    assert [g.gate.gate_id for g in await store.gates(run_id="run")] == ["g1", "g2"]
    assert [g.gate.gate_id for g in await store.gates("a", run_id="run")] == ["g1"]
    assert [g.gate.gate_id for g in await store.gates(run_id="run", states=EVERY)] == ["g1", "g2", "g3"]
    first = await store.gates_page(run_id="run", states=EVERY, limit=2)
    second = await store.gates_page(run_id="run", states=EVERY, limit=2, cursor=first.next_cursor)
    assert [[g.gate.gate_id for g in p.items] for p in (first, second)] == [["g1", "g2"], ["g3"]]
    assert second.next_cursor is None
    assert [g.gate.profile for g in first.items] == ["a", "b"]
    assert await store.gates(run_id="nobody's") == []
