"""Runs whose events only one process can read (Synapse v1 streams), with a run store shared by several runbridge
servers: the reading process stores them as they arrive, the others read them from the store, and when the reader
dies one of them says, once, that the stream was lost.

* The reader. An adapter that reads such streams (`LocalStreamsAPI`) tells a `StoreKeeper` of each one: the keeper
  holds the run's follow lease in the store (`RunStore.claim_follow`), renewed while the stream is read, and stores
  every event as it arrives. When no stream of the run is read any more (the run waits at a gate, ended, or its
  stream broke) it gives the lease up.
* The others. `watch_run` (what a call following the run reads) and `read_run` (runs_get, the run resource) on a
  process that does not read the run's stream serve it from the store while another process holds the lease: the
  events it stored, then each new one as it is stored, and the run as it recorded it.
* The reader dies (killed, its machine gone): its lease lapses, and the first process to look takes it over (one
  only: the claim is atomic). That process stores one event saying that the stream was lost, marks the run's status
  unknown (Synapse v1 has no run status to read), and gives the lease up. Nothing else is made up: no step, no end.
  From then on the run is read as after a restart: its stored events, and a status nobody can tell.

Without a shared store (`state_url` unset) none of this applies: the one process reads its streams itself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

import anyio
from anyio.abc import TaskGroup

from ..core.errors import RunbridgeError
from ..core.models import EventKind, Run, RunEvent, RunStatus
from ..core.protocols import LocalStreamsAPI, RunsAPI
from ..state import RunRecord, RunStore
from .app import App

__all__ = ["LOST_NOTE", "StoreKeeper", "read_run", "watch_run"]

log = logging.getLogger("runbridge.streams")

_POLL_SECONDS = 0.25  # how often a process that does not read the stream looks for newly stored events
_PAGE = 200
_CLAIM_TRIES = 10

LOST_NOTE = (
    "runbridge lost this run's event stream: the runbridge server reading it stopped before the run reached a gate "
    "or its end, and the backend cannot re-attach to a run's events (Synapse v1). The run may go on on the server; "
    "runbridge cannot see where it is, so its status is unknown here. Check it in the backend's own interface."
)


class StoreKeeper:
    """The `StreamKeeper` of one profile: the run's follow lease, held and renewed while its stream is read here,
    and its events stored as they arrive. Never raises: a store that cannot be reached costs a log line, not the
    stream."""

    def __init__(self, store: RunStore, profile: str, tasks: TaskGroup, *, lease_seconds: float) -> None:
        self.store, self.profile, self.tasks, self.lease_seconds = store, profile, tasks, lease_seconds
        self._renewing: dict[str, anyio.CancelScope] = {}

    async def reading(self, run_id: str) -> None:
        if run_id in self._renewing:
            return  # a resume's stream began before the last one ended: the lease is already held
        scope = self._renewing[run_id] = anyio.CancelScope()
        await self._claim(run_id)
        self.tasks.start_soon(self._renew, run_id, scope)

    async def read(self, run_id: str, events: Sequence[RunEvent]) -> None:
        try:
            await self.store.append_events(self.profile, run_id, events)
            end = next((e for e in events if e.kind.terminal), None)
            if end is not None:  # the others read the run's end from the record too
                await self.store.observe_run(
                    self.profile,
                    run_id,
                    status=end.kind.terminal_status or RunStatus.UNKNOWN,
                    error=_error_of(end),
                    usage=end.usage,
                    outputs=end.data.get("outputs", end.data.get("output")),
                )
        except RunbridgeError as exc:
            log.warning("could not store the events of run %s as they arrived: %s", run_id, exc)
        except Exception:  # a bug: the stream goes on, the events are still in this process's log
            log.exception("a bug stopped storing the events of run %s", run_id)

    async def done(self, run_id: str) -> None:
        scope = self._renewing.pop(run_id, None)
        if scope is not None:
            scope.cancel()
        with anyio.CancelScope(shield=True):
            try:
                await self.store.release_follow(self.profile, run_id)
            except RunbridgeError as exc:  # it lapses on its own
                log.info("could not give up the follow lease of run %s: %s", run_id, exc)

    async def _claim(self, run_id: str) -> None:
        for _ in range(_CLAIM_TRIES):  # another server may hold it for a moment, looking whether anyone reads it
            try:
                if await self.store.claim_follow(self.profile, run_id, lease_seconds=self.lease_seconds) is not None:
                    return
            except RunbridgeError as exc:
                log.warning("could not take the follow lease of run %s: %s", run_id, exc)
                return
            await anyio.sleep(0.05)
        log.warning("another runbridge server holds the follow lease of run %s, whose stream is read here", run_id)

    async def _renew(self, run_id: str, scope: anyio.CancelScope) -> None:
        with scope:
            while True:
                await anyio.sleep(self.lease_seconds / 3)
                await self._claim(run_id)


def _error_of(event: RunEvent) -> str | None:
    error = event.data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or "") or event.text  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    return str(error) if error else (event.text if event.kind is not EventKind.RUN_COMPLETED else None)


def from_store(app: App, profile: str) -> bool:
    """Whether `profile`'s runs may be read from the store, their streams being read by another process."""
    return app.settings.shared_state and app.adapters.keeps_streams(profile)


async def watch_run(
    app: App, profile: str, backend: RunsAPI, run_id: str, cursor: str | None
) -> AsyncGenerator[RunEvent]:
    """The run's events after `cursor`, as `backend.watch` gives them; for a run whose stream another process reads,
    from the store while it does (see the module docstring)."""
    from_here = not from_store(app, profile) or _reads_here(backend, run_id)
    if not from_here:
        store, after = app.registry, cursor
        while True:
            stored = await store.events(profile, run_id, after=after, limit=_PAGE)
            for event in stored.events:
                yield event
                after = event.seq or after
                if event.terminal:
                    return
            if stored.events:
                continue
            rest = await _reader_gone(app, profile, run_id, after)
            if rest is None:
                await anyio.sleep(_POLL_SECONDS)  # its reader lives: more comes through the store
                continue
            for event in rest:  # stored meanwhile, and (its reader dead) the loss, told once
                yield event
                after = event.seq or after
                if event.terminal:
                    return
            break
        cursor = after
    # Read by this process, or by none any more: what the backend itself gives (for Synapse v1 after its reader
    # stopped: that it cannot re-attach, so the caller reads the run's status and says it is unknown).
    async with aclosing(backend.watch(run_id, cursor=cursor)) as events:  # type: ignore[type-var]
        async for event in events:
            yield event


async def read_run(app: App, profile: str, backend: RunsAPI, run_id: str, record: RunRecord | None) -> Run:
    """The run as `backend.get_run` reads it; for a run whose stream another process reads, as that process recorded
    it while it does (the backend cannot say: Synapse v1 has no run status), and once that process is gone, after
    saying the stream was lost."""
    elsewhere = record is not None and from_store(app, profile) and not _reads_here(backend, run_id)
    if record is not None and elsewhere and await _reader_gone(app, profile, run_id, None, drain=False) is None:
        return Run(
            run_id=run_id,
            target_id=record.target_id,
            status=record.status,
            outputs=record.outputs,
            error=record.error,
            usage=record.usage,
            details={"source": "runbridge's record, kept by the runbridge server reading the run's stream"},
        )
    return await backend.get_run(run_id)


def _reads_here(backend: object, run_id: str) -> bool:
    return not isinstance(backend, LocalStreamsAPI) or backend.reads_here(run_id)


async def _reader_gone(
    app: App, profile: str, run_id: str, after: str | None, *, drain: bool = True
) -> list[RunEvent] | None:
    """None while another process holds the run's follow lease (it reads the stream). Else this process takes the
    lease (one process only) and returns the events stored after `after` meanwhile (none unless `drain`, when nobody
    held the lease); when the lease's holder died while reading (it did not give the lease up) and the run had not
    ended, they end with the one event this process stores saying the stream was lost (the run is then marked
    unknown). The lease is given up again either way."""
    store = app.registry
    lease = await store.claim_follow(profile, run_id, lease_seconds=app.settings.follow_lease_seconds)
    if lease is None:
        return None
    try:
        found: list[RunEvent] = []
        if lease.taken_from is None and not drain:
            return found
        while True:  # what was stored after what the caller has (by a reader that finished, or died)
            page = await store.events(profile, run_id, after=after, limit=_PAGE)
            if not page.events:
                break
            found += page.events
            after = page.events[-1].seq or after
        if lease.taken_from is None or any(event.terminal for event in found):
            return found
        log.warning(
            "took over run %s from %s, which stopped while reading its stream: the stream is lost",
            run_id,
            lease.taken_from,
        )
        note = RunEvent(
            kind=EventKind.LOG,
            raw_type="runbridge.stream_lost",
            seq=_next_seq(after),
            run_id=run_id,
            text="runbridge lost the run's event stream (the server reading it stopped); its status is unknown",
            data={"stream": "lost"},
            note=LOST_NOTE,
        )
        await store.append_events(profile, run_id, [note])
        await store.observe_run(profile, run_id, status=RunStatus.UNKNOWN)
        return [*found, note]
    finally:
        with anyio.CancelScope(shield=True):
            await store.release_follow(profile, run_id)


def _next_seq(after: str | None) -> str:
    """The loss event's sequence: after the last stored one, and never one the stream itself gives out (Synapse v1's
    are a counter from 1). Were the reader alive after all (Redis away for longer than its lease), its next event
    keeps its own sequence instead of being taken for one already stored."""
    return f"{after or 0}.lost"
