"""The run registry: runs and gates in SQLite, gates answered at most once, everything kept across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbridge.core.errors import GateError, InputError
from runbridge.core.models import Gate, GateField, Run, RunStatus, Usage
from runbridge.state import Registry

P = "local"


@pytest.fixture
def registry() -> Iterator[Registry]:
    reg = Registry(":memory:")
    yield reg
    reg.close()


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


def test_recorded_runs_are_listed_newest_first_in_pages(registry: Registry) -> None:
    for i in range(5):
        registry.record_run(P, Run(run_id=f"run_{i}", target_id="wf", status=RunStatus.RUNNING))
    registry.record_run("other", Run(run_id="run_elsewhere", status=RunStatus.RUNNING))
    first = registry.list_runs(P, limit=2)
    second = registry.list_runs(P, limit=2, cursor=first.next_cursor)
    third = registry.list_runs(P, limit=2, cursor=second.next_cursor)
    pages = [first, second, third]
    assert [[r.run_id for r in page.items] for page in pages] == [["run_4", "run_3"], ["run_2", "run_1"], ["run_0"]]
    assert first.next_cursor is not None
    assert second.next_cursor is not None
    assert third.next_cursor is None
    assert registry.list_runs(P, limit=5).next_cursor is None


def test_without_a_profile_the_list_covers_every_profile_and_pages_across_them(registry: Registry) -> None:
    for i in range(3):
        registry.record_run(P, Run(run_id=f"run_{i}", status=RunStatus.RUNNING))
        registry.record_run("other", Run(run_id=f"other_{i}", status=RunStatus.COMPLETED))
    first = registry.list_runs(None, limit=4)
    second = registry.list_runs(None, limit=4, cursor=first.next_cursor)
    listed = [(r.profile, r.run_id) for r in first.items + second.items]
    assert listed == [(p, f"{n}_{i}") for i in (2, 1, 0) for p, n in (("other", "other"), (P, "run"))]
    assert second.next_cursor is None
    assert [r.run_id for r in registry.list_runs(None, status=RunStatus.COMPLETED).items] == [
        "other_2",
        "other_1",
        "other_0",
    ]


def test_updating_a_run_does_not_move_it_in_the_list(registry: Registry) -> None:
    for i in range(3):
        registry.record_run(P, Run(run_id=f"run_{i}", status=RunStatus.RUNNING))
    registry.update_run(P, "run_0", status=RunStatus.COMPLETED, cursor="9")
    registry.record_run(P, Run(run_id="run_1", status=RunStatus.WAITING))
    assert [r.run_id for r in registry.list_runs(P).items] == ["run_2", "run_1", "run_0"]


def test_runs_can_be_filtered_by_status(registry: Registry) -> None:
    registry.record_run(P, Run(run_id="a", status=RunStatus.COMPLETED))
    registry.record_run(P, Run(run_id="b", status=RunStatus.FAILED, error="boom"))
    registry.record_run(P, Run(run_id="c", status=RunStatus.COMPLETED))
    assert [r.run_id for r in registry.list_runs(P, status=RunStatus.COMPLETED).items] == ["c", "a"]
    (failed,) = registry.list_runs(P, status=RunStatus.FAILED).items
    assert failed.error == "boom"
    assert registry.list_runs(P, status=RunStatus.WAITING).items == []


def test_a_cursor_that_was_not_handed_out_is_refused_clearly(registry: Registry) -> None:
    with pytest.raises(InputError, match="Invalid cursor 'next'"):
        registry.list_runs(P, cursor="next")


def test_update_run_keeps_what_it_is_not_told_and_records_unknown_runs(registry: Registry) -> None:
    registry.record_run(P, Run(run_id="r", target_id="wf", status=RunStatus.RUNNING))
    registry.update_run(P, "r", cursor="4")
    registry.update_run(P, "r", status=RunStatus.FAILED, error="it broke")
    registry.update_run(P, "r", status=RunStatus.FAILED)
    record = registry.get_run(P, "r")
    assert record is not None
    assert (record.target_id, record.status, record.cursor, record.error) == ("wf", RunStatus.FAILED, "4", "it broke")
    assert record.updated_at >= record.created_at
    registry.update_run(P, "seen_elsewhere", cursor="2")
    elsewhere = registry.get_run(P, "seen_elsewhere")
    assert elsewhere is not None
    assert (elsewhere.status, elsewhere.cursor, elsewhere.target_id) == (RunStatus.UNKNOWN, "2", None)
    assert registry.get_run(P, "never") is None
    assert registry.get_run("other", "r") is None


def test_observing_a_run_writes_only_what_changed_and_returns_the_record(registry: Registry) -> None:
    registry.record_run(P, Run(run_id="a", target_id="wf", status=RunStatus.RUNNING))
    registry.record_run(P, Run(run_id="b", status=RunStatus.RUNNING))
    registry.update_run(P, "a", cursor="7")
    before = registry.get_run(P, "a")
    assert before is not None
    same = registry.observe_run(P, "a", status=RunStatus.RUNNING)
    assert same == before, "nothing new: nothing written, updated_at kept"
    done = registry.observe_run(P, "a", status=RunStatus.FAILED, error="boom")
    assert (done.status, done.error, done.cursor, done.target_id) == (RunStatus.FAILED, "boom", "7", "wf")
    assert done.updated_at >= before.updated_at
    assert registry.observe_run(P, "a", status=RunStatus.FAILED) == done, "an error is not forgotten"
    unseen = registry.observe_run(P, "elsewhere", status=RunStatus.QUEUED)
    assert (unseen.status, unseen.cursor) == (RunStatus.QUEUED, None)
    assert [r.run_id for r in registry.list_runs(P).items] == ["elsewhere", "b", "a"], "reading never reorders"


def test_a_run_first_seen_ended_has_its_open_gates_closed(registry: Registry) -> None:
    registry.record_run(P, Run(run_id="run_1", status=RunStatus.WAITING))
    registry.record_gate(P, _gate("g1", "run_1"))
    registry.record_gate(P, _gate("g2", "run_2"))
    registry.observe_run(P, "run_1", status=RunStatus.WAITING)
    assert [g.gate.gate_id for g in registry.gates(P)] == ["g1", "g2"], "a run still waiting keeps its gate"
    registry.observe_run(P, "run_1", status=RunStatus.CANCELLED)
    assert [g.gate.gate_id for g in registry.gates(P)] == ["g2"], "only the ended run's gate is closed"
    closed = registry.get_gate(P, "g1")
    assert closed is not None
    assert closed.state == "closed"


def test_observing_a_run_read_from_its_backend_records_its_gate_and_returns_the_gates_it_waits_on(
    registry: Registry,
) -> None:
    waiting = Run(run_id="run_1", status=RunStatus.WAITING, open_gate=_gate("g1", "run_1"))
    record, gates = registry.observe(P, waiting)
    assert (record.run_id, record.status) == ("run_1", RunStatus.WAITING)
    assert [g.gate.gate_id for g in gates] == ["g1"]
    assert gates[0].gate.profile == P
    record, gates = registry.observe(P, Run(run_id="run_1", status=RunStatus.COMPLETED))
    assert record.status is RunStatus.COMPLETED
    assert gates == [], "an ended run waits on nothing"
    assert registry.gates(P) == []


def test_observing_a_run_records_the_usage_and_target_its_backend_reports_and_rereads_write_nothing(
    registry: Registry,
) -> None:
    used = Usage(input_tokens=3, output_tokens=4, total_tokens=7, cost_usd=0.002)
    first = registry.observe_run(P, "r", status=RunStatus.COMPLETED, usage=used, target_id="wf")
    assert (first.usage, first.target_id) == (used, "wf")
    again = registry.observe_run(P, "r", status=RunStatus.COMPLETED, usage=used, target_id="other")
    assert again == first, "the same usage, and a target already known: nothing written"
    more = Usage(input_tokens=5, output_tokens=4, total_tokens=9, cost_usd=0.003)
    assert registry.observe_run(P, "r", status=RunStatus.COMPLETED, usage=more).usage == more


def test_runs_since_a_moment_are_those_first_recorded_from_then_on_one_profile_or_all(registry: Registry) -> None:
    registry.record_run(P, Run(run_id="a", status=RunStatus.COMPLETED))
    registry.record_run("other", Run(run_id="b", status=RunStatus.COMPLETED))
    assert [r.run_id for r in registry.runs_since(None, datetime(2000, 1, 1, tzinfo=UTC))] == ["a", "b"]
    assert [r.run_id for r in registry.runs_since(P, datetime(2000, 1, 1, tzinfo=UTC))] == ["a"]
    assert registry.runs_since(None, datetime(2999, 1, 1, tzinfo=UTC)) == []


def test_usage_is_the_running_total_the_caller_accumulates(registry: Registry) -> None:
    registry.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))
    assert registry.get_run(P, "r").usage is None  # type: ignore[union-attr]
    first = Usage(input_tokens=100, output_tokens=20, total_tokens=120, cost_usd=0.001)
    registry.update_run(P, "r", usage=first)
    known = registry.get_run(P, "r").usage  # type: ignore[union-attr]
    assert known == first
    registry.update_run(P, "r", usage=known + Usage(input_tokens=50, output_tokens=5, total_tokens=55, cost_usd=0.0005))
    registry.update_run(P, "r", cursor="7")  # no usage: the total is kept
    total = registry.get_run(P, "r").usage  # type: ignore[union-attr]
    assert total is not None
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (150, 25, 175)
    assert total.cost_usd == pytest.approx(0.0015)


def test_the_first_sighting_of_a_gate_wins(registry: Registry) -> None:
    assert registry.record_gate(P, _gate(prompt="first")) is True
    assert registry.record_gate(P, _gate(prompt="second")) is False
    record = registry.get_gate(P, "g1")
    assert record is not None
    assert record.gate.prompt == "first"
    assert record.gate.profile == P
    assert record.state == "open"
    assert record.gate.resume == {"node_id": "approve", "token": "opaque"}, "what is needed to answer it later"
    assert registry.get_gate("other", "g1") is None


def test_gates_are_listed_by_profile_run_and_state(registry: Registry) -> None:
    registry.record_gate(P, _gate("g1", "run_1"))
    registry.record_gate(P, _gate("g2", "run_2"))
    registry.record_gate("other", _gate("g3", "run_3"))
    registry.claim_gate(P, "g2")
    registry.finish_gate(P, "g2", "answered", "accepted")
    assert [g.gate.gate_id for g in registry.gates(P)] == ["g1"]
    assert [g.gate.gate_id for g in registry.gates()] == ["g1", "g3"]
    assert [g.gate.gate_id for g in registry.gates(P, run_id="run_2", states=("answered",))] == ["g2"]
    assert [g.gate.gate_id for g in registry.gates(P, states=("open", "answered"))] == ["g1", "g2"]


def test_a_gate_is_claimed_at_most_once_and_later_claims_say_why(registry: Registry) -> None:
    registry.record_gate(P, _gate())
    assert registry.claim_gate(P, "g1").gate_id == "g1"
    assert registry.get_gate(P, "g1").state == "answering"  # type: ignore[union-attr]
    with pytest.raises(GateError, match="being answered right now; it cannot be answered twice"):
        registry.claim_gate(P, "g1")
    registry.finish_gate(P, "g1", "answered", "accepted")
    with pytest.raises(GateError, match=r"Gate g1 was already answered \(accepted\) at 20\d\d-"):
        registry.claim_gate(P, "g1")
    with pytest.raises(InputError, match=r"Unknown gate 'nope'.*gates_list"):
        registry.claim_gate(P, "nope")


def test_finishing_a_gate_records_its_outcome(registry: Registry) -> None:
    for gate_id in ("yes", "no", "retry"):
        registry.record_gate(P, _gate(gate_id))
        registry.claim_gate(P, gate_id)
    registry.finish_gate(P, "yes", "answered", "accepted")
    registry.finish_gate(P, "no", "declined", "declined")
    registry.finish_gate(P, "retry", "open")  # the answer did not go through: answerable again
    yes, no, retry = (registry.get_gate(P, g) for g in ("yes", "no", "retry"))
    assert yes is not None
    assert no is not None
    assert retry is not None
    assert (yes.state, yes.decision) == ("answered", "accepted")
    assert yes.answered_at is not None
    assert (no.state, no.decision) == ("declined", "declined")
    assert (retry.state, retry.answered_at, retry.decision) == ("open", None, None)
    assert registry.claim_gate(P, "retry").gate_id == "retry"
    with pytest.raises(GateError, match="already declined"):
        registry.claim_gate(P, "no")


def test_closing_a_runs_gates_leaves_answered_ones_and_the_kept_one(registry: Registry) -> None:
    registry.record_gate(P, _gate("old", "run_1"))
    registry.record_gate(P, _gate("kept", "run_1"))
    registry.record_gate(P, _gate("done", "run_1"))
    registry.record_gate(P, _gate("other_run", "run_2"))
    registry.claim_gate(P, "done")
    registry.finish_gate(P, "done", "answered", "accepted")
    registry.close_gates(P, "run_1", keep="kept")
    states = {g.gate.gate_id: g.state for g in registry.gates(P, states=("open", "answered", "closed"))}
    assert states == {"old": "closed", "kept": "open", "done": "answered", "other_run": "open"}
    with pytest.raises(GateError, match="Gate old is closed: its run has moved on or ended"):
        registry.claim_gate(P, "old")
    registry.close_gates(P, "run_1")
    assert registry.get_gate(P, "kept").state == "closed"  # type: ignore[union-attr]


def test_runs_and_gates_survive_reopening_a_file_database(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.db"
    first = Registry(path)
    first.record_run(P, Run(run_id="r", target_id="wf", status=RunStatus.RUNNING))
    first.update_run(P, "r", status=RunStatus.WAITING, cursor="12", usage=Usage(total_tokens=99))
    first.record_gate(P, _gate("open_gate", "r"))
    first.record_gate(P, _gate("answered_gate", "r"))
    first.claim_gate(P, "answered_gate")
    first.finish_gate(P, "answered_gate", "answered", "accepted")
    first.close()
    assert path.is_file()

    second = Registry(path)
    try:
        run = second.get_run(P, "r")
        assert run is not None
        assert (run.status, run.cursor, run.target_id) == (RunStatus.WAITING, "12", "wf")
        assert run.usage == Usage(total_tokens=99)
        assert [g.gate.gate_id for g in second.gates(P)] == ["open_gate"]
        assert second.get_gate(P, "open_gate").gate.resume["token"] == "opaque"  # type: ignore[union-attr]
        with pytest.raises(GateError, match="already answered"):
            second.claim_gate(P, "answered_gate")
        assert second.claim_gate(P, "open_gate").gate_id == "open_gate"
    finally:
        second.close()


def test_two_registries_on_one_file_let_only_one_claim_a_gate(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    one, two = Registry(path), Registry(path)
    try:
        one.record_gate(P, _gate())
        assert two.get_gate(P, "g1") is not None
        one.claim_gate(P, "g1")
        with pytest.raises(GateError, match="being answered"):
            two.claim_gate(P, "g1")
    finally:
        one.close()
        two.close()
