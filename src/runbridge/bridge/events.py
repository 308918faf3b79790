"""A page of a run's past events, without waiting for new ones.

Where the backend can page events at once (`EventPagesAPI`: OpenWOP's poll endpoint, the log runbridge keeps of a
Synapse v1 run in this process), the page is that answer. Otherwise it comes from the events runbridge stored with
the run (what it followed or paged before, kept across restarts: the only record of a Synapse v1 run's events once
runbridge restarted), and past what is stored, from the run's stream until the stream falls quiet, the only sign
there that the backlog is over: a page then takes at least `_IDLE`, and up to `_FIRST` for a run with nothing new.

Every event a page reads from the backend is stored with the run (a run runbridge recorded only, and a page that
goes on from what is stored, so that the stored events stay in order), so the next runbridge process has it too."""

from __future__ import annotations

from typing import Any

import anyio
from pydantic import BaseModel, Field

from ..core.errors import CursorError, RunbridgeError, UnsupportedError
from ..core.models import RunEvent
from ..core.protocols import EventPagesAPI, RunsAPI
from ..state import RunStore, StoredEvents
from ..state.store import EVENT_BYTES_KEPT, EVENTS_KEPT
from .progress import words

__all__ = ["EventView", "EventsPage", "keep_events", "read_events"]

_IDLE = 0.5  # seconds of silence that mean "no more past events for now"
# The first event may take longer: opening the stream (and reconnecting when it breaks at once) is not silence, and
# an empty page would read as "no events" for a run that has some.
_FIRST = 5.0
_MAX_DATA = 2_000


class EventView(BaseModel):
    seq: str
    kind: str
    type: str
    ts: str
    step: str | None = None
    text: str
    data: dict[str, Any] = Field(default_factory=dict)


class EventsPage(BaseModel):
    profile: str
    run_id: str
    events: list[EventView]
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the following events.")
    ended: bool = Field(default=False, description="True when the page reaches the run's final event.")
    truncated: bool = False
    note: str | None = Field(
        default=None,
        description="Where the events came from when not from the backend, and how many older ones runbridge no "
        "longer keeps.",
    )


async def read_events(
    backend: RunsAPI, store: RunStore, profile: str, run_id: str, *, cursor: str | None, limit: int, budget: int
) -> EventsPage:
    """A page of the run's events after `cursor`: from one request where the backend can page them, else from what
    runbridge stored of them, else from the run's stream until it falls quiet."""
    page = _Page(profile, run_id, cursor, limit, budget)
    if isinstance(backend, EventPagesAPI):
        found = await backend.event_page(run_id, cursor=cursor)
        if found is not None:
            for event in found.events:
                if not page.add(event):
                    break
            if cursor is None or await _stored(store, profile, run_id, cursor, 1) is not None:
                await keep_events(store, profile, run_id, page.read)
            return page.done(complete=found.complete)
    stored = await _stored(store, profile, run_id, cursor, limit)
    if stored is not None and stored.events:
        for event in stored.events:
            if not page.add(event):
                break
        return page.done(note=_stored_note(stored, cursor))
    stream = backend.watch(run_id, cursor=cursor)
    try:
        while not page.full:
            with anyio.move_on_after(_IDLE if page.views else _FIRST):
                event = await anext(stream, None)
                if event is None or not page.add(event):
                    break
                continue
            break  # idle: nothing more for now
    except UnsupportedError as exc:
        if page.views or stored is None or cursor is None:
            raise
        # Past the last stored event of a run this backend cannot replay (Synapse v1 after a restart): nothing newer.
        page.note = f"No newer event is stored, and the backend cannot replay the run's events: {exc}"
    except RunbridgeError:
        if not page.views:
            raise
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    if stored is not None:
        await keep_events(store, profile, run_id, page.read)
    return page.done()


async def keep_events(store: RunStore, profile: str, run_id: str, events: list[RunEvent]) -> None:
    """Store events read from the backend with their run, so that they outlive this process; a run runbridge has
    no record of keeps nothing (a typo leaves nothing behind). Callers store a page only where it goes on from the
    stored events (or starts the run's), so that what is stored stays in the run's order."""
    if events and await store.get_run(profile, run_id) is not None:
        await store.append_events(profile, run_id, events)


async def _stored(store: RunStore, profile: str, run_id: str, cursor: str | None, limit: int) -> StoredEvents | None:
    """The stored events after `cursor`; None when the store cannot go on from there (a cursor it never stored)."""
    try:
        return await store.events(profile, run_id, after=cursor, limit=limit)
    except CursorError:
        return None


def _stored_note(stored: StoredEvents, cursor: str | None) -> str:
    said = "From the events runbridge stored with the run."
    if stored.cut and cursor is None:
        said += (
            f" runbridge keeps a run's newest {EVENTS_KEPT:,} events ({EVENT_BYTES_KEPT // 1_048_576} MB at most): "
            f"the {stored.cut:,} before these are no longer kept."
        )
    return said


class _Page:
    """The events of one page as they are added, within its limit and its size budget."""

    def __init__(self, profile: str, run_id: str, cursor: str | None, limit: int, budget: int) -> None:
        self.profile, self.run_id, self.cursor, self.limit, self.budget = profile, run_id, cursor, limit, budget
        self.views: list[EventView] = []
        self.read: list[RunEvent] = []  # the events taken, as read (what is stored)
        self.note: str | None = None
        self.size = 0
        self.ended = False
        self.truncated = False

    @property
    def full(self) -> bool:
        return len(self.views) >= self.limit

    def add(self, event: RunEvent) -> bool:
        """Add `event`; whether the page takes more (not at its end, its limit or its budget)."""
        data = event.data
        view = EventView(
            seq=event.seq,
            kind=event.kind.value,
            type=event.raw_type,
            ts=event.ts.isoformat(timespec="seconds"),
            step=event.step.name if event.step else None,
            text=event.text if event.text and event.text != event.raw_type else words(event.raw_type),
            data=data if len(str(data)) <= _MAX_DATA else {"preview": str(data)[:_MAX_DATA] + "…"},
        )
        self.size += len(view.model_dump_json())
        if self.size > self.budget and self.views:
            self.truncated = True
            return False
        self.views.append(view)
        self.read.append(event)
        self.cursor = event.seq or self.cursor
        self.ended = event.terminal
        return not (self.ended or self.full)

    def done(self, *, complete: bool = False, note: str | None = None) -> EventsPage:
        """The page; `complete`: the backend says the run's log is complete, so reading it all ends the run."""
        ended = self.ended or (complete and not self.truncated and not self.full)
        return EventsPage(
            profile=self.profile,
            run_id=self.run_id,
            events=self.views,
            next_cursor=None if ended else self.cursor,
            ended=ended,
            truncated=self.truncated,
            note=note or self.note,
        )
