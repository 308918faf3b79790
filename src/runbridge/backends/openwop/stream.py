"""Reading a run's events: the SSE stream, and the poll endpoint when the stream cannot be opened
(docs/backends/openwop.md).

Some hosts have no SSE, and some proxies refuse `text/event-stream` or answer the stream with a page of their own.
Both readers share one `WatchState` (the last sequence delivered), so a watch that starts on the stream and ends on
the poll still delivers every event exactly once, in order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, cast

import anyio
import httpx2

from ...core.errors import BackendError, CursorError, RunbridgeError, StreamError, TransportError, UnavailableError
from ...core.models import EventKind, Run, RunEvent
from ...http import HttpClient, RetryPolicy, SSEMessage, follow
from .wire import RawEvent, parse_docs, parse_frame

__all__ = [
    "TERMINAL_TYPES",
    "Ended",
    "EventsConnection",
    "StreamUnavailable",
    "WatchState",
    "closing_event",
    "event_cursor",
    "poll_events",
    "poll_page",
    "stream_events",
]

log = logging.getLogger("runbridge.openwop")

TERMINAL_TYPES = frozenset({"run.completed", "run.failed", "run.cancelled"})

# Statuses with which a host or a proxy says "no event stream here" (rather than "no such run"): the poll may work.
_NO_STREAM = frozenset({404, 405, 406, 415, 501})
_POLL_POLICY = RetryPolicy(attempts=8, base_delay=0.05, max_delay=5.0)
_MIN_POLL_INTERVAL = 0.2  # a host that ignores `timeout` and answers empty at once is not asked in a tight loop
_MAX_POLL_INTERVAL = 2.0
_CUTS_AFTER_END = 3  # connections cut off before their first frame, once the run is known to be over
_GAP_REREADS = 3  # polls spent reading again an event a page left out, before taking the gap as the host's own


class Ended(RunbridgeError):
    """Raised inside a reconnect when the run turned out to be over already; carries its snapshot."""

    def __init__(self, run: Run) -> None:
        super().__init__("run already ended")
        self.run = run


class StreamUnavailable(RunbridgeError):
    """The events endpoint cannot be streamed on this host (or through its proxy); `reason` says how it refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class WatchState:
    """What the connections and polls of one watch share."""

    last_seq: int | None = None
    delivered: int = 0
    ended: Run | None = None
    delivered_when_ended_seen: int = 0
    cut: bool = False  # the last connection broke (rather than closed)
    cuts_after_end: int = 0
    polled: bool = False

    def fresh(self, raw: RawEvent) -> bool:
        """Whether `raw` is new (and if so, take it as delivered)."""
        if raw.seq is not None:
            if self.last_seq is not None and raw.seq <= self.last_seq:
                return False
            self.last_seq = raw.seq
        self.delivered += 1
        return True


def event_cursor(cursor: str | None) -> int | None:
    """The sequence an event cursor names: runbridge's OpenWOP cursors are the host's event sequences."""
    if not cursor:
        return None
    if not cursor.isdigit():
        raise CursorError(cursor)
    return int(cursor)


def closing_event(run: Run, cursor: str | None) -> RunEvent:
    """The terminal event of a run whose end was read from its status (its log's end was at or before the cursor)."""
    kind = {"completed": EventKind.RUN_COMPLETED, "failed": EventKind.RUN_FAILED}.get(
        run.status.value, EventKind.RUN_CANCELLED
    )
    return RunEvent(
        kind=kind,
        raw_type="state.snapshot",
        seq=cursor or "",
        run_id=run.run_id,
        text=f"run {run.status.value} (read from the run's status after the stream closed)",
        data={"status": run.raw_status, "outputs": run.outputs, "error": run.error},
        from_status=True,
    )


def is_end(raw: RawEvent) -> bool:
    if raw.type in TERMINAL_TYPES:
        return True
    return raw.type == "state.snapshot" and raw.payload.get("status") in ("completed", "failed", "cancelled")


GetRun = Callable[[str], Awaitable[Run]]


class EventsConnection:
    """An events connection that, on a reconnect, first checks whether the run already ended.

    A run that ended while the stream was down still has its remaining events, terminal one included, in the log:
    reconnecting (with `Last-Event-ID`) reads them, so none is lost. Only when a connection opened after the end
    brings nothing new (a host that serves nothing past a finished run) does the watch end with the snapshot's
    final status, instead of reconnecting forever. A connection cut off before it brought anything is not such an
    answer, so it is tried again (a few times) first. An answer that is not an event stream raises
    `StreamUnavailable`.
    """

    def __init__(
        self,
        http: HttpClient,
        get_run: GetRun,
        run_id: str,
        path: str,
        headers: dict[str, str],
        *,
        check_ended: bool,
        state: WatchState,
    ) -> None:
        self._http = http
        self._get_run = get_run
        self._run_id = run_id
        self._path = path
        self._headers = headers
        self._check_ended = check_ended
        self._state = state
        self._cm: AbstractAsyncContextManager[httpx2.Response] | None = None

    async def __aenter__(self) -> httpx2.Response:
        state = self._state
        if state.ended is not None:
            if state.delivered == state.delivered_when_ended_seen and (
                not state.cut or state.cuts_after_end >= _CUTS_AFTER_END
            ):
                raise Ended(state.ended)  # the last try after the end brought nothing new: nothing more will come
        elif self._check_ended:
            run = await self._get_run(self._run_id)
            if run.status.terminal:
                state.ended = run
        state.delivered_when_ended_seen = state.delivered
        self._cm = self._http.stream("GET", self._path, action="follow the run's events", headers=self._headers)
        try:
            response = await self._cm.__aenter__()
        except BackendError as exc:
            if exc.status in _NO_STREAM and exc.code != "run_not_found":
                raise StreamUnavailable(f"the events endpoint answered HTTP {exc.status}") from None
            raise
        media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media != "text/event-stream":
            await self._cm.__aexit__(None, None, None)
            self._cm = None
            raise StreamUnavailable(f"the events endpoint answered {media or 'no content type'}, not an event stream")
        return response

    async def __aexit__(self, *exc: object) -> bool | None:
        self._state.cut = exc[0] is not None
        if self._state.cut and self._state.ended is not None:
            self._state.cuts_after_end += 1
        if self._cm is None:
            return None
        return await self._cm.__aexit__(*exc)  # type: ignore[arg-type]


def stream_events(
    http: HttpClient,
    get_run: GetRun,
    run_id: str,
    path: str,
    headers: dict[str, str],
    state: WatchState,
    *,
    max_event_bytes: int,
) -> AsyncIterator[RawEvent]:
    """The run's events from its SSE stream at `path`, reconnecting with `Last-Event-ID` (see `EventsConnection`);
    each event once (`state`). The `Accept` header is always sent: one real host answers JSON without it."""
    opened = 0

    def open_stream(last_id: str | None) -> AbstractAsyncContextManager[httpx2.Response]:
        nonlocal opened
        opened += 1
        sent = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **headers}
        if last_id:
            sent["Last-Event-ID"] = last_id
        return EventsConnection(http, get_run, run_id, path, sent, check_ended=opened > 1, state=state)

    def decode(message: SSEMessage) -> list[RawEvent]:
        return [e for e in parse_frame(message.event, message.data, message.id, run_id=run_id) if state.fresh(e)]

    return follow(
        open_stream,
        decode=decode,
        is_end=is_end,
        last_event_id=str(state.last_seq) if state.last_seq is not None else None,
        max_event_bytes=max_event_bytes,
    )


Call = Callable[..., Awaitable[Any]]


async def poll_events(
    call: Call, get_run: GetRun, run_id: str, state: WatchState, *, v2: bool, wait_seconds: int
) -> AsyncIterator[RawEvent]:
    """Every event after `state.last_seq` from `GET /runs/{id}/events/poll`, until the terminal one.

    `call(method, path, action=..., params=...)` is the adapter's request. v1 asks `lastSequence` and reads
    `{events, isComplete}`; v2 asks `afterSequence` and reads `{events, lastSequence, status, isTerminal}`. Both
    are taken as exclusive; a host that repeats the event at the cursor has it dropped here. Failures are retried
    with backoff until several polls in a row brought nothing, like the stream's reconnects.
    """
    failures = 0
    quiet = 0
    while True:
        started = anyio.current_time()
        try:
            polled = await _poll_whole(call, run_id, state.last_seq, v2=v2, wait_seconds=wait_seconds)
        except (TransportError, UnavailableError) as exc:
            failures += 1
            if failures >= _POLL_POLICY.attempts:
                raise StreamError(
                    f"Polling the run's events kept failing ({exc}); gave up after {failures} tries."
                ) from None
            await anyio.sleep(_POLL_POLICY.delay(failures - 1, getattr(exc, "retry_after", None)))
            continue
        failures = 0
        state.polled = True
        delivered = state.delivered
        for raw in polled.events:
            if not state.fresh(raw):
                continue
            yield raw
            if is_end(raw):
                return
        if polled.after is not None:
            state.last_seq = max(polled.after, state.last_seq if state.last_seq is not None else polled.after)
        if polled.complete:
            # The log is complete but its terminal event was not among those read (it was before the cursor).
            raise Ended(await get_run(run_id))
        quiet = 0 if state.delivered > delivered else quiet + 1
        elapsed = anyio.current_time() - started
        if quiet and elapsed < _MIN_POLL_INTERVAL:
            await anyio.sleep(min(_MIN_POLL_INTERVAL * quiet, _MAX_POLL_INTERVAL))


@dataclass(frozen=True)
class _Polled:
    events: list[RawEvent]
    complete: bool
    after: int | None  # v2's `lastSequence`: where the next poll starts, past events this client may not see


async def _poll(call: Call, run_id: str, last_seq: int | None, *, v2: bool, wait_seconds: int) -> _Polled:
    """One `GET /runs/{id}/events/poll` after `last_seq`; the host answers at once when it has events, else within
    `wait_seconds`."""
    params: dict[str, Any] = {"timeout": wait_seconds}
    if last_seq is not None:
        if v2:
            params["afterSequence"] = last_seq
        else:  # `since` too: the legacy name, the only one one reference host reads (it sends the whole log otherwise)
            params["lastSequence"] = params["since"] = last_seq
    doc = await call("GET", f"/runs/{run_id}/events/poll", action="poll the run's events", params=params)
    body = cast(dict[str, Any], doc) if isinstance(doc, dict) else {}
    raw_events = body.get("events")
    events = parse_docs(cast(list[Any], raw_events), run_id=run_id) if isinstance(raw_events, list) else []
    after = body.get("lastSequence") if v2 else None
    return _Polled(
        events=events,
        complete=body.get("isComplete") is True or body.get("isTerminal") is True,
        after=after if isinstance(after, int) and not isinstance(after, bool) else None,
    )


async def poll_page(
    call: Call, run_id: str, last_seq: int | None, *, v2: bool, wait_seconds: int
) -> tuple[list[RawEvent], bool]:
    """The events after `last_seq` the host has now, from one poll (a host that repeats the event at the cursor has
    it dropped here), and whether the run's log is complete."""
    polled = await _poll_whole(call, run_id, last_seq, v2=v2, wait_seconds=wait_seconds)
    fresh = [e for e in polled.events if e.seq is None or last_seq is None or e.seq > last_seq]
    return fresh, polled.complete


def _first_missing(events: list[RawEvent], after: int | None) -> int | None:
    """The first sequence number missing between `after` (or the first event) and the last event, if any: an OpenWOP
    run's log is numbered without gaps, so a page with one left an event out."""
    expected = None if after is None else after + 1
    for seq in sorted({e.seq for e in events if e.seq is not None and (after is None or e.seq > after)}):
        if expected is not None and seq > expected:
            return expected
        expected = seq + 1
    return None


async def _poll_whole(call: Call, run_id: str, last_seq: int | None, *, v2: bool, wait_seconds: int) -> _Polled:
    """One poll, with any event it left out read again: one real host's poll leaves out the event right after its
    cursor, so the page is asked again from a little earlier (repeats are dropped), a few times at most. A gap that
    stays is taken as the host's own (logged), so that paging never stalls on it."""
    polled = await _poll(call, run_id, last_seq, v2=v2, wait_seconds=wait_seconds)
    missing = _first_missing(polled.events, last_seq)
    for _ in range(_GAP_REREADS):
        if missing is None:
            return polled
        again = await _poll(call, run_id, missing - 2 if missing >= 2 else None, v2=v2, wait_seconds=1)
        merged = {e.seq: e for e in [*polled.events, *again.events] if e.seq is not None}
        unnumbered = [e for e in polled.events if e.seq is None]
        events = [merged[seq] for seq in sorted(merged)] + unnumbered
        polled = _Polled(events=events, complete=polled.complete or again.complete, after=polled.after)
        missing = _first_missing(polled.events, last_seq)
    if missing is None:
        return polled
    log.warning("run %s: the host's event log has no event %s; going on without it", run_id, missing)
    return polled
