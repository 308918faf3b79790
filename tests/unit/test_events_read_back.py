"""`runs_events` from runbridge's own record (bridge/events.py): where the backend can neither page a run's events
nor replay them (Synapse v1 after a restart), the page comes from the events stored with the run, says so, and
says how many older events the store's bound cut; past the last stored event it is an empty page, not an error.
The backend here is a stand-in that can only say it cannot replay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from runbridge.bridge.events import EventsPage, read_events
from runbridge.core.errors import UnsupportedError
from runbridge.core.models import EventKind, Run, RunEvent, RunStatus
from runbridge.core.protocols import EventPage
from runbridge.state import RunStore

pytestmark = pytest.mark.anyio

CANNOT_REPLAY = "this backend cannot re-attach to a run's events"


class NoReplay:
    """A backend with no event pages and no replay (as Synapse v1 once runbridge restarted)."""

    family = "stand-in"

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        raise UnsupportedError(CANNOT_REPLAY)
        yield  # an async generator, as adapters' watches are

    async def get_run(self, run_id: str) -> Run:
        return Run(run_id=run_id)

    async def start_run(self, request: object) -> Run:
        raise NotImplementedError

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        raise NotImplementedError


def _event(n: int, *, last: bool = False) -> RunEvent:
    kind = EventKind.RUN_COMPLETED if last else EventKind.MESSAGE
    return RunEvent(kind=kind, raw_type=kind.value, seq=str(n), run_id="r", text=f"event {n}")


async def _page(store: RunStore, cursor: str | None, limit: int = 50) -> EventsPage:
    return await read_events(NoReplay(), store, "p", "r", cursor=cursor, limit=limit, budget=1_000_000)  # type: ignore[arg-type]


async def test_a_run_the_backend_cannot_replay_is_read_from_its_stored_events_in_pages(store: RunStore) -> None:
    await store.record_run("p", Run(run_id="r", status=RunStatus.COMPLETED))
    await store.append_events("p", "r", [_event(n, last=n == 7) for n in range(1, 8)])
    first = await _page(store, None, limit=4)
    rest = await _page(store, first.next_cursor, limit=4)
    assert [e.seq for e in first.events] == ["1", "2", "3", "4"]
    assert [e.seq for e in rest.events] == ["5", "6", "7"]
    assert (first.ended, rest.ended, rest.next_cursor) == (False, True, None)
    assert first.note is not None
    assert "stored" in first.note
    assert "no longer kept" not in first.note


async def test_past_the_last_stored_event_the_page_is_empty_and_says_why(store: RunStore) -> None:
    await store.record_run("p", Run(run_id="r", status=RunStatus.WAITING))
    await store.append_events("p", "r", [_event(n) for n in range(1, 4)])
    page = await _page(store, "3")
    assert page.events == []
    assert page.next_cursor == "3"
    assert page.note is not None
    assert CANNOT_REPLAY in page.note


async def test_the_events_the_bound_cut_are_said_on_the_first_page(store: RunStore) -> None:
    await store.record_run("p", Run(run_id="r", status=RunStatus.COMPLETED))
    await store.append_events("p", "r", [_event(n) for n in range(1, 10_006)])
    page = await _page(store, None, limit=3)
    assert [e.seq for e in page.events] == ["6", "7", "8"]
    assert page.note is not None
    assert "newest 10,000 events" in page.note
    assert "the 5 before these are no longer kept" in page.note


async def test_a_run_with_nothing_stored_is_the_backends_own_answer(store: RunStore) -> None:
    with pytest.raises(UnsupportedError, match="cannot re-attach"):
        await _page(store, None)


class Pages(NoReplay):
    """A backend that pages a run's events at once (as OpenWOP's poll endpoint): here, nine of them."""

    async def event_page(self, run_id: str, *, cursor: str | None = None) -> EventPage:
        start = int(cursor or 0)
        return EventPage(events=[_event(n, last=n == 9) for n in range(start + 1, 10)], complete=True)


async def test_pages_the_backend_gives_are_stored_only_where_they_go_on_from_the_stored_events(
    store: RunStore,
) -> None:
    await store.record_run("p", Run(run_id="r", status=RunStatus.RUNNING))
    await store.append_events("p", "r", [_event(n) for n in range(1, 4)])
    skipped = await read_events(Pages(), store, "p", "r", cursor="6", limit=50, budget=1_000_000)  # type: ignore[arg-type]
    assert [e.seq for e in skipped.events] == ["7", "8", "9"]
    assert [e.seq for e in (await store.events("p", "r")).events] == ["1", "2", "3"], "a gap would break the order"
    await read_events(Pages(), store, "p", "r", cursor="3", limit=50, budget=1_000_000)  # type: ignore[arg-type]
    assert [e.seq for e in (await store.events("p", "r")).events] == [str(n) for n in range(1, 10)]
