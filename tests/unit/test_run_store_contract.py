"""The run store contract: what every `RunStore` must do (runs and gates recorded, a status that only moves forward,
gates answered at most once through leases, bounded events, keyset pages), run against each store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from runbridge.core.errors import GateError, InputError
from runbridge.core.models import Gate, GateField, Run, RunStatus, Usage
from runbridge.state import RunStore

OpenStore = Callable[..., RunStore]  # the `open_store` fixture (tests/unit/conftest.py)

P = "local"


pytestmark = pytest.mark.anyio


def _gate(gate_id: str = "g1", run_id: str = "run_1", prompt: str = "Approve?", **extra: object) -> Gate:
    return Gate(
        gate_id=gate_id,
        run_id=run_id,
        kind="approval",
        prompt=prompt,
        fields=[GateField(name="decision", type="select", options=["accept", "reject"], required=True)],
        opened_at=datetime(2026, 1, 1, tzinfo=UTC),
        resume={"node_id": "approve", "token": "opaque"},
        **extra,  # type: ignore[arg-type]
    )


async def test_recorded_runs_are_listed_newest_first_in_pages(store: RunStore) -> None:
    for i in range(5):
        await store.record_run(P, Run(run_id=f"run_{i}", target_id="wf", status=RunStatus.RUNNING))
    await store.record_run("other", Run(run_id="run_elsewhere", status=RunStatus.RUNNING))
    first = await store.list_runs(P, limit=2)
    second = await store.list_runs(P, limit=2, cursor=first.next_cursor)
    third = await store.list_runs(P, limit=2, cursor=second.next_cursor)
    pages = [first, second, third]
    assert [[r.run_id for r in page.items] for page in pages] == [["run_4", "run_3"], ["run_2", "run_1"], ["run_0"]]
    assert first.next_cursor is not None
    assert second.next_cursor is not None
    assert third.next_cursor is None
    assert (await store.list_runs(P, limit=5)).next_cursor is None


async def test_without_a_profile_the_list_covers_every_profile_and_pages_across_them(store: RunStore) -> None:
    for i in range(3):
        await store.record_run(P, Run(run_id=f"run_{i}", status=RunStatus.RUNNING))
        await store.record_run("other", Run(run_id=f"other_{i}", status=RunStatus.COMPLETED))
    first = await store.list_runs(None, limit=4)
    second = await store.list_runs(None, limit=4, cursor=first.next_cursor)
    listed = [(r.profile, r.run_id) for r in first.items + second.items]
    assert listed == [(p, f"{n}_{i}") for i in (2, 1, 0) for p, n in (("other", "other"), (P, "run"))]
    assert second.next_cursor is None
    assert [r.run_id for r in (await store.list_runs(None, status=RunStatus.COMPLETED)).items] == [
        "other_2",
        "other_1",
        "other_0",
    ]


async def test_updating_a_run_does_not_move_it_in_the_list(store: RunStore) -> None:
    for i in range(3):
        await store.record_run(P, Run(run_id=f"run_{i}", status=RunStatus.RUNNING))
    await store.update_run(P, "run_0", status=RunStatus.COMPLETED, cursor="9")
    await store.record_run(P, Run(run_id="run_1", status=RunStatus.WAITING))
    assert [r.run_id for r in (await store.list_runs(P)).items] == ["run_2", "run_1", "run_0"]


async def test_runs_can_be_filtered_by_status(store: RunStore) -> None:
    await store.record_run(P, Run(run_id="a", status=RunStatus.COMPLETED))
    await store.record_run(P, Run(run_id="b", status=RunStatus.FAILED, error="boom"))
    await store.record_run(P, Run(run_id="c", status=RunStatus.COMPLETED))
    assert [r.run_id for r in (await store.list_runs(P, status=RunStatus.COMPLETED)).items] == ["c", "a"]
    (failed,) = (await store.list_runs(P, status=RunStatus.FAILED)).items
    assert failed.error == "boom"
    assert (await store.list_runs(P, status=RunStatus.WAITING)).items == []


async def test_a_cursor_that_was_not_handed_out_is_refused_clearly(store: RunStore) -> None:
    with pytest.raises(InputError, match="Invalid cursor 'next'"):
        await store.list_runs(P, cursor="next")


async def test_update_run_keeps_what_it_is_not_told_and_records_unknown_runs(store: RunStore) -> None:
    await store.record_run(P, Run(run_id="r", target_id="wf", status=RunStatus.RUNNING))
    await store.update_run(P, "r", cursor="4")
    await store.update_run(P, "r", status=RunStatus.FAILED, error="it broke")
    await store.update_run(P, "r", status=RunStatus.FAILED)
    record = await store.get_run(P, "r")
    assert record is not None
    assert (record.target_id, record.status, record.cursor, record.error) == ("wf", RunStatus.FAILED, "4", "it broke")
    assert record.updated_at >= record.created_at
    await store.update_run(P, "seen_elsewhere", cursor="2")
    elsewhere = await store.get_run(P, "seen_elsewhere")
    assert elsewhere is not None
    assert (elsewhere.status, elsewhere.cursor, elsewhere.target_id) == (RunStatus.UNKNOWN, "2", None)
    assert await store.get_run(P, "never") is None
    assert await store.get_run("other", "r") is None


async def test_observing_a_run_writes_only_what_changed_and_returns_the_record(store: RunStore) -> None:
    await store.record_run(P, Run(run_id="a", target_id="wf", status=RunStatus.RUNNING))
    await store.record_run(P, Run(run_id="b", status=RunStatus.RUNNING))
    await store.update_run(P, "a", cursor="7")
    before = await store.get_run(P, "a")
    assert before is not None
    same = await store.observe_run(P, "a", status=RunStatus.RUNNING)
    assert same == before, "nothing new: nothing written, updated_at kept"
    done = await store.observe_run(P, "a", status=RunStatus.FAILED, error="boom")
    assert (done.status, done.error, done.cursor, done.target_id) == (RunStatus.FAILED, "boom", "7", "wf")
    assert done.updated_at >= before.updated_at
    assert await store.observe_run(P, "a", status=RunStatus.FAILED) == done, "an error is not forgotten"
    unseen = await store.observe_run(P, "elsewhere", status=RunStatus.QUEUED)
    assert (unseen.status, unseen.cursor) == (RunStatus.QUEUED, None)
    assert [r.run_id for r in (await store.list_runs(P)).items] == ["elsewhere", "b", "a"], "reading never reorders"


async def test_a_run_first_seen_ended_has_its_open_gates_closed(store: RunStore) -> None:
    await store.record_run(P, Run(run_id="run_1", status=RunStatus.WAITING))
    await store.record_gate(P, _gate("g1", "run_1"))
    await store.record_gate(P, _gate("g2", "run_2"))
    await store.observe_run(P, "run_1", status=RunStatus.WAITING)
    assert [g.gate.gate_id for g in await store.gates(P)] == ["g1", "g2"], "a run still waiting keeps its gate"
    await store.observe_run(P, "run_1", status=RunStatus.CANCELLED)
    assert [g.gate.gate_id for g in await store.gates(P)] == ["g2"], "only the ended run's gate is closed"
    closed = await store.get_gate(P, "g1")
    assert closed is not None
    assert closed.state == "closed"


async def test_observing_a_run_read_from_its_backend_records_its_gate_and_returns_the_gates_it_waits_on(
    store: RunStore,
) -> None:
    waiting = Run(run_id="run_1", status=RunStatus.WAITING, open_gate=_gate("g1", "run_1"))
    record, gates = await store.observe(P, waiting)
    assert (record.run_id, record.status) == ("run_1", RunStatus.WAITING)
    assert [g.gate.gate_id for g in gates] == ["g1"]
    assert gates[0].gate.profile == P
    record, gates = await store.observe(P, Run(run_id="run_1", status=RunStatus.COMPLETED))
    assert record.status is RunStatus.COMPLETED
    assert gates == [], "an ended run waits on nothing"
    assert await store.gates(P) == []


async def test_observing_a_run_records_the_usage_and_target_its_backend_reports_and_rereads_write_nothing(
    store: RunStore,
) -> None:
    used = Usage(input_tokens=3, output_tokens=4, total_tokens=7, cost_usd=0.002)
    first = await store.observe_run(P, "r", status=RunStatus.COMPLETED, usage=used, target_id="wf")
    assert (first.usage, first.target_id) == (used, "wf")
    again = await store.observe_run(P, "r", status=RunStatus.COMPLETED, usage=used, target_id="other")
    assert again == first, "the same usage, and a target already known: nothing written"
    more = Usage(input_tokens=5, output_tokens=4, total_tokens=9, cost_usd=0.003)
    assert (await store.observe_run(P, "r", status=RunStatus.COMPLETED, usage=more)).usage == more


async def test_runs_since_a_moment_are_those_first_recorded_from_then_on_one_profile_or_all(store: RunStore) -> None:
    await store.record_run(P, Run(run_id="a", status=RunStatus.COMPLETED))
    await store.record_run("other", Run(run_id="b", status=RunStatus.COMPLETED))
    assert [r.run_id for r in await store.runs_since(None, datetime(2000, 1, 1, tzinfo=UTC))] == ["a", "b"]
    assert [r.run_id for r in await store.runs_since(P, datetime(2000, 1, 1, tzinfo=UTC))] == ["a"]
    assert await store.runs_since(None, datetime(2999, 1, 1, tzinfo=UTC)) == []


async def test_usage_is_the_running_total_the_caller_accumulates(store: RunStore) -> None:
    await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))
    assert (await store.get_run(P, "r")).usage is None  # type: ignore[union-attr]
    first = Usage(input_tokens=100, output_tokens=20, total_tokens=120, cost_usd=0.001)
    await store.update_run(P, "r", usage=first)
    known = (await store.get_run(P, "r")).usage  # type: ignore[union-attr]
    assert known == first
    await store.update_run(
        P, "r", usage=known + Usage(input_tokens=50, output_tokens=5, total_tokens=55, cost_usd=0.0005)
    )
    await store.update_run(P, "r", cursor="7")  # no usage: the total is kept
    total = (await store.get_run(P, "r")).usage  # type: ignore[union-attr]
    assert total is not None
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (150, 25, 175)
    assert total.cost_usd == pytest.approx(0.0015)


async def test_the_first_sighting_of_a_gate_wins(store: RunStore) -> None:
    assert await store.record_gate(P, _gate(prompt="first")) is True
    assert await store.record_gate(P, _gate(prompt="second")) is False
    record = await store.get_gate(P, "g1")
    assert record is not None
    assert record.gate.prompt == "first"
    assert record.gate.profile == P
    assert record.state == "open"
    assert record.gate.resume == {"node_id": "approve", "token": "opaque"}, "what is needed to answer it later"
    assert await store.get_gate("other", "g1") is None


async def test_updating_a_gate_replaces_what_it_shows_and_keeps_its_state(store: RunStore) -> None:
    await store.record_gate(P, _gate(prompt="2 of 3 votes"))
    await store.claim_gate(P, "g1")
    await store.update_gate(P, _gate(prompt="3 of 3 votes"))
    await store.update_gate(P, _gate("never-recorded"))  # creates nothing
    record = await store.get_gate(P, "g1")
    assert record is not None
    assert (record.gate.prompt, record.state, record.owner) == ("3 of 3 votes", "answering", store.owner)
    assert record.gate.resume == {"node_id": "approve", "token": "opaque"}
    assert await store.get_gate(P, "never-recorded") is None


async def test_gates_are_listed_by_profile_run_and_state(store: RunStore) -> None:
    await store.record_gate(P, _gate("g1", "run_1"))
    await store.record_gate(P, _gate("g2", "run_2"))
    await store.record_gate("other", _gate("g3", "run_3"))
    await store.claim_gate(P, "g2")
    await store.finish_gate(P, "g2", "answered", "accepted")
    assert [g.gate.gate_id for g in await store.gates(P)] == ["g1"]
    assert [g.gate.gate_id for g in await store.gates()] == ["g1", "g3"]
    assert [g.gate.gate_id for g in await store.gates(P, run_id="run_2", states=("answered",))] == ["g2"]
    assert [g.gate.gate_id for g in await store.gates(P, states=("open", "answered"))] == ["g1", "g2"]


async def test_a_gate_is_claimed_at_most_once_and_later_claims_say_why(store: RunStore) -> None:
    await store.record_gate(P, _gate())
    assert (await store.claim_gate(P, "g1")).gate_id == "g1"
    assert (await store.get_gate(P, "g1")).state == "answering"  # type: ignore[union-attr]
    with pytest.raises(GateError, match="being answered right now; it cannot be answered twice"):
        await store.claim_gate(P, "g1")
    await store.finish_gate(P, "g1", "answered", "accepted")
    with pytest.raises(GateError, match=r"Gate g1 was already answered \(accepted\) at 20\d\d-"):
        await store.claim_gate(P, "g1")
    with pytest.raises(InputError, match=r"Unknown gate 'nope'.*gates_list"):
        await store.claim_gate(P, "nope")


async def test_finishing_a_gate_records_its_outcome(store: RunStore) -> None:
    for gate_id in ("yes", "no", "retry"):
        await store.record_gate(P, _gate(gate_id))
        await store.claim_gate(P, gate_id)
    await store.finish_gate(P, "yes", "answered", "accepted")
    await store.finish_gate(P, "no", "declined", "declined")
    await store.finish_gate(P, "retry", "open")  # the answer did not go through: answerable again
    yes, no, retry = [await store.get_gate(P, g) for g in ("yes", "no", "retry")]
    assert yes is not None
    assert no is not None
    assert retry is not None
    assert (yes.state, yes.decision) == ("answered", "accepted")
    assert yes.answered_at is not None
    assert (no.state, no.decision) == ("declined", "declined")
    assert (retry.state, retry.answered_at, retry.decision) == ("open", None, None)
    assert (await store.claim_gate(P, "retry")).gate_id == "retry"
    with pytest.raises(GateError, match="already declined"):
        await store.claim_gate(P, "no")


async def test_closing_a_runs_gates_leaves_answered_ones_and_the_kept_one(store: RunStore) -> None:
    await store.record_gate(P, _gate("old", "run_1"))
    await store.record_gate(P, _gate("kept", "run_1"))
    await store.record_gate(P, _gate("done", "run_1"))
    await store.record_gate(P, _gate("other_run", "run_2"))
    await store.claim_gate(P, "done")
    await store.finish_gate(P, "done", "answered", "accepted")
    await store.close_gates(P, "run_1", keep="kept")
    states = {g.gate.gate_id: g.state for g in await store.gates(P, states=("open", "answered", "closed"))}
    assert states == {"old": "closed", "kept": "open", "done": "answered", "other_run": "open"}
    with pytest.raises(GateError, match="Gate old is closed: its run has moved on or ended"):
        await store.claim_gate(P, "old")
    await store.close_gates(P, "run_1")
    assert (await store.get_gate(P, "kept")).state == "closed"  # type: ignore[union-attr]


async def test_runs_and_gates_survive_reopening_the_store(open_store: OpenStore) -> None:
    first = open_store()
    await first.record_run(P, Run(run_id="r", target_id="wf", status=RunStatus.RUNNING))
    await first.update_run(P, "r", status=RunStatus.WAITING, cursor="12", usage=Usage(total_tokens=99))
    await first.record_gate(P, _gate("open_gate", "r"))
    await first.record_gate(P, _gate("answered_gate", "r"))
    await first.claim_gate(P, "answered_gate")
    await first.finish_gate(P, "answered_gate", "answered", "accepted")
    await first.aclose()

    second = open_store()
    run = await second.get_run(P, "r")
    assert run is not None
    assert (run.status, run.cursor, run.target_id) == (RunStatus.WAITING, "12", "wf")
    assert run.usage == Usage(total_tokens=99)
    assert [g.gate.gate_id for g in await second.gates(P)] == ["open_gate"]
    assert (await second.get_gate(P, "open_gate")).gate.resume["token"] == "opaque"  # type: ignore[union-attr]
    with pytest.raises(GateError, match="already answered"):
        await second.claim_gate(P, "answered_gate")
    assert (await second.claim_gate(P, "open_gate")).gate_id == "open_gate"


async def test_two_stores_on_one_database_let_only_one_claim_a_gate(open_store: OpenStore) -> None:
    one, two = open_store(), open_store()
    await one.record_gate(P, _gate())
    assert await two.get_gate(P, "g1") is not None
    await one.claim_gate(P, "g1")
    with pytest.raises(GateError, match="being answered"):
        await two.claim_gate(P, "g1")
