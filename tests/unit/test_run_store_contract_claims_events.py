"""The run store contract, continued: gate claims are leases (stale by expiry or by a dead owner, taken over by one
process only), events are kept bounded and once per seq, locators merge, usage is summed per group, and keyset
cursors stay stable under inserts and refuse what runbridge did not give out. Run against each store."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from runbridge.core.errors import CursorError, GateError
from runbridge.core.models import EventKind, Gate, Run, RunEvent, RunStatus, Usage
from runbridge.state import RunStore
from runbridge.state.store import EVENT_BYTES_KEPT, EVENTS_KEPT

pytestmark = pytest.mark.anyio

OpenStore = Callable[..., RunStore]  # the `open_store` fixture (tests/unit/conftest.py)
P = "local"


def _gate(gate_id: str, run_id: str = "run_1", opened: int = 0) -> Gate:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=opened)
    return Gate(gate_id=gate_id, run_id=run_id, kind="approval", prompt="Approve?", opened_at=at)


def _event(seq: int | str, run_id: str = "r", size: int = 0) -> RunEvent:
    return RunEvent(kind=EventKind.MESSAGE, raw_type="message", seq=str(seq), run_id=run_id, text="x" * size)


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- gate claims are leases -------------------------------------------------------------------------------------


async def test_a_claim_is_a_lease_held_by_this_process_until_it_is_settled(store: RunStore) -> None:
    await store.record_gate(P, _gate("g1"))
    before = datetime.now(UTC)
    await store.claim_gate(P, "g1", lease_seconds=60)
    claimed = await store.get_gate(P, "g1")
    assert claimed is not None
    assert (claimed.state, claimed.owner) == ("answering", store.owner)
    assert claimed.lease_until is not None
    assert before + timedelta(seconds=59) <= claimed.lease_until <= datetime.now(UTC) + timedelta(seconds=61)
    assert await store.stale_claims() == [], "a live lease is not stale, least of all to its owner"
    await store.finish_gate(P, "g1", "answered", "accepted")
    settled = await store.get_gate(P, "g1")
    assert settled is not None
    assert (settled.state, settled.owner, settled.lease_until) == ("answered", None, None)


async def test_a_lapsed_claim_is_stale_to_others_and_exactly_one_takes_it_over(open_store: OpenStore) -> None:
    crashed, one, two = open_store(owner="elsewhere:1:a"), open_store(), open_store()
    await crashed.record_gate(P, _gate("g1"))
    await crashed.record_gate(P, _gate("g2"))
    await crashed.claim_gate(P, "g1", lease_seconds=0)
    await crashed.claim_gate(P, "g2", lease_seconds=600)  # another host's live lease: not stale
    assert [r.gate.gate_id for r in await one.stale_claims()] == ["g1"]
    assert [r.gate.gate_id for r in await one.stale_claims(P)] == ["g1"]
    assert await one.stale_claims("other") == []

    won: list[str] = []

    async def take(store: RunStore) -> None:
        if (record := await store.take_over(P, "g1")) is not None:
            won.append(record.owner or "")

    async with anyio.create_task_group() as tasks:
        for store in (one, two, one, two):
            tasks.start_soon(take, store)
    assert len(won) == 1, "two live processes never both take one claim"
    winner = one if won == [one.owner] else two
    assert (await winner.get_gate(P, "g1")).owner == winner.owner  # type: ignore[union-attr]
    assert await one.stale_claims() == [], "a fresh lease is not stale"
    assert await two.stale_claims() == []
    await crashed.finish_gate(P, "g1", "open")  # the old owner settles nothing it lost
    assert (await winner.get_gate(P, "g1")).state == "answering"  # type: ignore[union-attr]
    await winner.finish_gate(P, "g1", "answered", "accepted")
    assert (await one.get_gate(P, "g1")).state == "answered"  # type: ignore[union-attr]
    assert await one.take_over(P, "g1") is None, "an answered gate is no claim to take"


async def test_a_claim_whose_process_on_this_host_is_gone_is_stale_before_its_lease_lapses(
    open_store: OpenStore,
) -> None:
    host = socket.gethostname()
    gone, alive, me = open_store(owner=f"{host}:{_dead_pid()}:x"), open_store(owner=f"{host}:1:y"), open_store()
    await gone.record_gate(P, _gate("g-gone"))
    await gone.record_gate(P, _gate("g-alive"))
    await gone.claim_gate(P, "g-gone", lease_seconds=600)
    await alive.claim_gate(P, "g-alive", lease_seconds=600)  # pid 1 lives as long as the system does
    assert [r.gate.gate_id for r in await me.stale_claims()] == ["g-gone"]
    taken = await me.take_over(P, "g-gone")
    assert taken is not None
    assert (taken.owner, taken.state) == (me.owner, "answering")
    assert await me.take_over(P, "g-alive") is None


async def test_of_concurrent_claims_exactly_one_wins(open_store: OpenStore) -> None:
    stores = [open_store()]
    with suppress(pytest.skip.Exception):  # a store in memory is opened once: its own concurrent calls race
        stores += [open_store(), open_store()]
    await stores[0].record_gate(P, _gate("g1"))
    results: list[str] = []

    async def claim(store: RunStore) -> None:
        try:
            results.append((await store.claim_gate(P, "g1")).gate_id)
        except GateError:
            results.append("refused")

    async with anyio.create_task_group() as tasks:
        for i in range(8):
            tasks.start_soon(claim, stores[i % len(stores)])
    assert sorted(results) == ["g1"] + ["refused"] * 7


# -- events -----------------------------------------------------------------------------------------------------


async def test_events_are_kept_in_order_of_arrival_once_per_seq_and_paged(store: RunStore) -> None:
    await store.append_events(P, "r", [_event(s) for s in ("b", "a", "c")])
    await store.append_events(P, "r", [_event("a"), _event("d")])  # "a" again: kept once
    await store.append_events(P, "other", [_event("z", run_id="other")])
    first = await store.events(P, "r", limit=3)
    assert ([e.seq for e in first.events], first.next_after, first.cut) == (["b", "a", "c"], "c", 0)
    rest = await store.events(P, "r", after=first.next_after, limit=3)
    assert ([e.seq for e in rest.events], rest.next_after) == (["d"], None)
    assert (await store.events(P, "r", after="d")).events == []
    assert rest.events[0] == _event("d").model_copy(update={"ts": rest.events[0].ts}), "an event comes back whole"
    assert (await store.events("other-profile", "r")).events == []
    with pytest.raises(CursorError):
        await store.events(P, "r", after="never-seen")


async def test_a_runs_events_are_bounded_by_count_and_the_cut_is_said(store: RunStore) -> None:
    over = 25
    batch = [_event(i) for i in range(EVENTS_KEPT + over)]
    for start in range(0, len(batch), 2_000):
        await store.append_events(P, "r", batch[start : start + 2_000])
    page = await store.events(P, "r", limit=2)
    assert ([e.seq for e in page.events], page.cut) == ([str(over), str(over + 1)], over)
    last = await store.events(P, "r", after=str(EVENTS_KEPT + over - 2), limit=5)
    assert [e.seq for e in last.events] == [str(EVENTS_KEPT + over - 1)]


async def test_a_runs_events_are_bounded_by_bytes_and_the_cut_is_said(store: RunStore) -> None:
    size = EVENT_BYTES_KEPT // 4  # four fit, a fifth does not (with each event's envelope)
    await store.append_events(P, "r", [_event(i, size=size) for i in range(3)])
    await store.append_events(P, "r", [_event(i, size=size) for i in range(3, 6)])
    page = await store.events(P, "r")
    assert [e.seq for e in page.events] == ["3", "4", "5"]
    assert page.cut == 3


# -- locators ---------------------------------------------------------------------------------------------------


async def test_a_locator_is_kept_with_its_run_and_merged_key_by_key(store: RunStore) -> None:
    assert await store.set_locator(P, "unknown", {"thread": "t"}) is False
    assert await store.get_run(P, "unknown") is None, "a locator creates no run"
    await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING), locator={"thread": "t1", "url": "/a"})
    assert (await store.get_run(P, "r")).locator == {"thread": "t1", "url": "/a"}  # type: ignore[union-attr]
    assert await store.set_locator(P, "r", {"url": "/b", "target": "wf"}) is True
    (listed,) = (await store.list_runs(P)).items
    assert listed.locator == {"thread": "t1", "url": "/b", "target": "wf"}
    await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))  # recorded again without one: kept
    assert (await store.get_run(P, "r")).locator == listed.locator  # type: ignore[union-attr]


# -- usage ------------------------------------------------------------------------------------------------------


async def test_usage_is_summed_per_group_over_the_runs_since_a_moment(store: RunStore) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    await store.update_run(P, "a", status=RunStatus.COMPLETED, target_id="wf", usage=Usage(total_tokens=10, turns=2))
    await store.update_run(P, "b", status=RunStatus.FAILED, target_id="wf", usage=Usage(total_tokens=5, cost_usd=0.5))
    await store.update_run("other", "c", status=RunStatus.RUNNING)
    by_target = {s.key: s for s in await store.usage_sums(None, since, "target")}
    assert set(by_target) == {"wf", None}
    wf = by_target["wf"]
    assert (wf.runs, wf.runs_with_usage, wf.usage) == (2, 2, Usage(total_tokens=15, cost_usd=0.5, turns=2))
    assert (by_target[None].runs, by_target[None].runs_with_usage, by_target[None].usage) == (1, 0, Usage())
    assert {s.key: s.runs for s in await store.usage_sums(None, since, "profile")} == {P: 2, "other": 1}
    assert {s.key: s.runs for s in await store.usage_sums(P, since, "status")} == {"completed": 1, "failed": 1}
    assert [(s.key, s.runs) for s in await store.usage_sums(P, since, "day")] == [
        (datetime.now(UTC).date().isoformat(), 2)
    ]
    assert await store.usage_sums(None, datetime.now(UTC) + timedelta(minutes=1), "target") == []


# -- keyset cursors ---------------------------------------------------------------------------------------------


async def test_run_pages_stay_stable_while_runs_are_added(store: RunStore) -> None:
    for i in range(5):
        await store.record_run(P, Run(run_id=f"r{i}", status=RunStatus.RUNNING))
    first = await store.list_runs(P, limit=2)
    for i in range(5, 8):  # newer runs arrive between pages: they belong before the first page
        await store.record_run(P, Run(run_id=f"r{i}", status=RunStatus.RUNNING))
    second = await store.list_runs(P, limit=2, cursor=first.next_cursor)
    third = await store.list_runs(P, limit=2, cursor=second.next_cursor)
    seen = [r.run_id for page in (first, second, third) for r in page.items]
    assert seen == ["r4", "r3", "r2", "r1", "r0"]
    assert third.next_cursor is None


async def test_gate_pages_stay_stable_while_gates_are_added(store: RunStore) -> None:
    for i in range(4):
        await store.record_gate(P, _gate(f"g{i}", opened=i))
    first = await store.gates_page(P, limit=2)
    await store.record_gate(P, _gate("g-early", opened=-5))  # sorts before the page already shown: not repeated
    await store.record_gate(P, _gate("g-late", opened=99))
    second = await store.gates_page(P, limit=2, cursor=first.next_cursor)
    third = await store.gates_page(P, limit=2, cursor=second.next_cursor)
    seen = [g.gate.gate_id for page in (first, second, third) for g in page.items]
    assert seen == ["g0", "g1", "g2", "g3", "g-late"]
    assert third.next_cursor is None
    every = await store.gates_page(P, states=("open", "answering", "answered", "declined", "closed"), limit=10)
    assert len(every.items) == 6


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "next",  # not base64 of JSON
        "20",  # an offset, as cursors were before
        "%%%",
        _b64("{}"),  # JSON of another shape
        _b64('["2026-01-01", "r1", 1]'),
        _b64('["2026-01-01", 1, 2]'),
        _b64('["2026-01-01", 1.5]'),
        _b64('["2026-01-01", true]'),
        _b64(f'["2026-01-01", {2**63}]'),  # more than SQLite's integers hold
        _b64(f'["2026-01-01", {-(2**70)}]'),
        _b64(f'["2026-01-01", {"9" * 5000}]'),  # more digits than Python reads as a number
        _b64('["' + "x" * 5000 + '", 1]'),  # far longer than any cursor runbridge gives out
    ],
)
async def test_a_cursor_runbridge_did_not_give_out_is_refused_clearly(store: RunStore, cursor: str) -> None:
    await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))
    with pytest.raises(CursorError, match="it is not one runbridge gave out"):
        await store.list_runs(P, cursor=cursor)
    with pytest.raises(CursorError, match="it is not one runbridge gave out"):
        await store.gates_page(P, cursor=cursor)


async def test_a_cursor_at_the_edge_of_sqlites_integers_is_still_a_cursor(store: RunStore) -> None:
    await store.record_run(P, Run(run_id="r", status=RunStatus.RUNNING))
    page = await store.list_runs(P, cursor=_b64(f'["9999-01-01", {2**63 - 1}]'))
    assert [r.run_id for r in page.items] == ["r"]
