"""`runs_list` on a profile whose backend keeps a run history (`RunListAPI`): the backend's runs and runbridge's
own records of that profile, one list, newest first.

Both sources are paged newest first, each by its own opaque cursor: the backend's runs by when they started,
runbridge's records by when runbridge first recorded them. A page reads, from each source, a window of `limit`
items past what earlier pages took, merges the windows, and takes the newest `limit` items that are surely newer
than anything a window left unread (a source with more beyond its window bounds how far the page may go). The
merged cursor holds, per source, the cursor its window was read from and how many of its items were already
taken, so that no run is shown twice or skipped, whatever the sources' cursors are.

A run in both (started through runbridge, and listed by its backend) is shown once, as runbridge recorded it; a
record of runbridge that the backend lists under an id of its own (`RunListAPI.listed_id`: a call the backend
numbered after runbridge did) is shown as the backend lists it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..core.errors import CursorError
from ..core.models import Run, RunStatus
from ..core.protocols import RunListAPI
from ..state import RunRecord, RunStore

__all__ = ["Listed", "merged_runs"]

_PREFIX = "m1."
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Listed:
    """One run of a merged page: from runbridge's record or from the backend."""

    run_id: str
    target_id: str | None
    status: RunStatus
    error: str | None
    when: datetime  # when runbridge recorded it, or when the backend says it started
    updated_at: datetime
    source: str  # "runbridge" or "backend"


@dataclass
class _Source:
    cursor: str | None = None  # where the window is read from
    skip: int = 0  # items of that page already taken
    done: bool = False


def _encode(backend: _Source, store: _Source) -> str | None:
    if backend.done and store.done:
        return None
    doc = {"b": [backend.cursor, backend.skip, backend.done], "s": [store.cursor, store.skip, store.done]}
    return _PREFIX + base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def _decode(cursor: str | None) -> tuple[_Source, _Source]:
    if not cursor:
        return _Source(), _Source()
    try:
        if not cursor.startswith(_PREFIX):
            raise ValueError(cursor)
        doc: Any = json.loads(base64.urlsafe_b64decode(cursor[len(_PREFIX) :].encode()))
        out = []
        for key in ("b", "s"):
            at, skip, done = doc[key]
            if not (at is None or isinstance(at, str)) or not isinstance(skip, int) or not isinstance(done, bool):
                raise ValueError(cursor)
            out.append(_Source(at, max(0, skip), done))
    except (ValueError, KeyError, TypeError):
        raise CursorError(cursor) from None
    return out[0], out[1]


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _from_record(record: RunRecord) -> Listed:
    when, updated = _aware(record.created_at), _aware(record.updated_at)
    return Listed(record.run_id, record.target_id, record.status, record.error, when, updated, "runbridge")


def _from_backend(run: Run) -> Listed:
    when = _aware(run.created_at or _OLDEST)
    return Listed(run.run_id, run.target_id, run.status, run.error, when, when, "backend")


async def merged_runs(
    store: RunStore,
    profile: str,
    backend: RunListAPI,
    *,
    cursor: str | None,
    limit: int,
    status: RunStatus | None,
) -> tuple[list[Listed], str | None]:
    """One page of the merged list, and the cursor of the next (None: the last page)."""
    b, s = _decode(cursor)
    # Each source's window: its raw items past `skip`, each with whether the page may show it.
    windows: dict[str, list[tuple[Listed, bool]]] = {"b": [], "s": []}
    beyond: dict[str, str | None] = {"b": None, "s": None}
    if not b.done:
        page = await backend.list_runs(cursor=b.cursor, limit=b.skip + limit)
        beyond["b"] = page.next_cursor
        for run in page.items[b.skip :]:
            recorded = await store.get_run(profile, run.run_id)
            item = _from_backend(run)
            windows["b"].append((item, recorded is None and (status is None or item.status is status)))
    if not s.done:
        spage = await store.list_runs(profile, cursor=s.cursor, limit=s.skip + limit, status=status)
        beyond["s"] = spage.next_cursor
        for record in spage.items[s.skip :]:
            listed = backend.listed_id(record.locator or {})
            windows["s"].append((_from_record(record), listed is None or listed == record.run_id))
    # A source with items beyond its window: the page shows nothing older than its window's last item.
    key = _key
    bounds = [key(w[-1][0], name) for name, w in windows.items() if w and beyond[name] is not None]
    floor = max(bounds) if bounds else None
    shown = sorted(
        ((item, name) for name, w in windows.items() for item, ok in w if ok),
        key=lambda pair: key(*pair),
        reverse=True,
    )
    shown = [pair for pair in shown if floor is None or key(*pair) >= floor]
    taken = shown[:limit]
    cut = key(*taken[-1]) if len(shown) > limit else floor
    for name, src in (("b", b), ("s", s)):
        window = windows[name]
        used = len(window) if cut is None else sum(1 for item, _ in window if key(item, name) >= cut)
        if src.done:
            continue
        if used == len(window):  # the whole window is behind this page: on to the source's next page
            src.cursor, src.skip, src.done = beyond[name], 0, beyond[name] is None
        else:
            src.skip += used
    return [item for item, _ in taken], _encode(b, s)


def _key(item: Listed, source: str) -> tuple[datetime, str, str]:
    """Newest first; ties broken the same way on every page."""
    return (item.when, source, item.run_id)
