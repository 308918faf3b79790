"""A page of a run's past events, read from the backend's stream without waiting for new ones."""

from __future__ import annotations

from typing import Any

import anyio
from pydantic import BaseModel, Field

from ..core.errors import RunbridgeError
from ..core.protocols import RunsAPI

__all__ = ["EventView", "EventsPage", "read_events"]

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


async def read_events(
    backend: RunsAPI, profile: str, run_id: str, *, cursor: str | None, limit: int, budget: int
) -> EventsPage:
    views: list[EventView] = []
    ended = False
    size = 0
    truncated = False
    stream = backend.watch(run_id, cursor=cursor)
    try:
        while len(views) < limit:
            with anyio.move_on_after(_IDLE if views else _FIRST):
                event = await anext(stream, None)
                if event is None:
                    break
                data = event.data
                rendered = EventView(
                    seq=event.seq,
                    kind=event.kind.value,
                    type=event.raw_type,
                    ts=event.ts.isoformat(timespec="seconds"),
                    step=event.step.name if event.step else None,
                    text=event.text,
                    data=data if len(str(data)) <= _MAX_DATA else {"preview": str(data)[:_MAX_DATA] + "…"},
                )
                size += len(rendered.model_dump_json())
                if size > budget and views:
                    truncated = True
                    break
                views.append(rendered)
                cursor = event.seq or cursor
                if event.terminal:
                    ended = True
                    break
                continue
            break  # idle: nothing more for now
    except RunbridgeError:
        if not views:
            raise
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return EventsPage(
        profile=profile,
        run_id=run_id,
        events=views,
        next_cursor=None if ended else cursor,
        ended=ended,
        truncated=truncated,
    )
