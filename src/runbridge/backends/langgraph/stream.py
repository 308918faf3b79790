"""Following a chain of LangGraph runs as one run (docs/backends/langgraph.md).

For each run of the chain, its resumable stream is joined from its first event (`Last-Event-ID: 0`) and the events
the cursor already covers are skipped; a dropped connection is rejoined with `Last-Event-ID`. The server's event ids
are millisecond stamps that several events of the same millisecond share, and it resends only events whose id is
*greater*: a rejoin therefore names the last id *before* the last one delivered and skips again the events of that
last id that were already delivered, so nothing is lost or repeated.

The stream of a run has no end event: it closes. Once the run's status says it ended, one more join reads anything
the closed connection missed, then the run's outcome comes from its status and its thread: failed, cancelled,
resumed (a newer run of the chain exists), waiting on the thread's pending interrupts, or completed with the
thread's values. Each interrupt is a gate event where the stream announces it (a `tasks` event); one the stream did
not announce (a stream the server no longer has) gets its gate event from the thread's state. While it waits, the
chain is asked every `poll` seconds for a resume (by this process, another runbridge or any other client) or a
cancel.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import anyio
import httpx2

from ...core.errors import CursorError, NotFoundError, StreamError, TransportError
from ...core.models import EventKind, RunEvent
from ...http import RetryPolicy, iter_messages
from .client import Wire
from .events import RawEvent, interrupts_raised, map_event, parse
from .gates import gate_of
from .wire import CANCELLED_KEY, CHAIN_STRIDE, as_dict, chain_of, decode_cursor, encode_seq, ended_status, interrupts_of

__all__ = ["ChainWatch"]

_POLICY = RetryPolicy(attempts=8, base_delay=0.1, max_delay=5.0)


class _SentOnce:
    """What one connection to a run's stream already sent. A join replays the events it kept after `Last-Event-ID`
    and then sends live ones from a queue it subscribed to before replaying, so an event published meanwhile comes
    twice, with the same id and data. Ids only grow (`<milliseconds>-0`, shared within a millisecond): an event
    whose id is below the newest one sent, or equal to it with data already sent under it, was sent already."""

    def __init__(self) -> None:
        self.newest: tuple[int, ...] | None = None
        self.under_newest: set[tuple[str, str]] = set()

    def first_time(self, event_id: str | None, event: str, data: str) -> bool:
        key = _id_order(event_id)
        if key is None:
            return True  # no id to order by (a run that is not resumable): nothing is replayed
        if self.newest is not None and key < self.newest:
            return False
        if key != self.newest:
            self.newest, self.under_newest = key, set()
        elif (event, data) in self.under_newest:
            return False
        self.under_newest.add((event, data))
        return True


def _id_order(event_id: str | None) -> tuple[int, ...] | None:
    """An event id as numbers to order by (`1712345678901-0` is (1712345678901, 0)); None for no or another id."""
    parts = (event_id or "").split("-")
    if not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


class ChainWatch:
    """One watch of the chain started by `root` on `thread_id`."""

    def __init__(
        self,
        wire: Wire,
        root: str,
        thread_id: str,
        *,
        poll: float,
        on_raw: Callable[[int, RawEvent], None] | None = None,
    ) -> None:
        self.wire = wire
        self.root = root
        self.thread_id = thread_id
        self.poll = poll
        self.on_raw = on_raw  # sees every stream event with its position (a fork looks for checkpoints)
        self.last_error: Any = None

    async def chain(self) -> list[dict[str, Any]]:
        chain = chain_of(self.root, await self.wire.runs(self.thread_id))
        if not chain:
            raise NotFoundError(
                f"No run {self.root!r} on thread {self.thread_id!r} at {self.wire.http.profile.base_url}",
                backend=self.wire.family,
                status=404,
            )
        return chain

    def _event(self, kind: EventKind, index: int, position: int, text: str, **extra: Any) -> RunEvent:
        return RunEvent(
            kind=kind, raw_type=kind.value, seq=encode_seq(index, position), run_id=self.root, text=text, **extra
        )

    async def events(self, cursor: str | None) -> AsyncGenerator[RunEvent]:
        index, skip = decode_cursor(cursor)
        chain = await self.chain()
        if index >= len(chain):
            raise CursorError(cursor or "")
        while True:
            run_id = str(chain[index]["run_id"])
            count = 0
            raised: set[str] = set()  # the interrupts the stream announced (each a gate event already)
            async for position, raw in self.stream(run_id):
                count = position
                raised.update(i.id for i in interrupts_raised(raw))
                if position > skip:
                    event = map_event(raw, self.root, encode_seq(index, position), first=index == 0)
                    if event is not None:
                        yield event
            position = max(count, 0)
            status = ended_status((await self.wire.run(self.thread_id, run_id)).get("status"))
            if status is not None and status.terminal and status.value != "completed":
                if position + 1 > skip:
                    yield await self._failed(index, position + 1, run_id, status.value)
                return
            chain = await self.chain()
            if len(chain) <= index + 1:
                state, latest = await self._settled_state(chain)
                pending = interrupts_of(state) if latest else []
                if not pending and not raised:  # an interrupt the stream announced ended the run, whatever else
                    if position + 1 > skip:
                        outputs = state.get("values")
                        yield self._event(
                            EventKind.RUN_COMPLETED, index, position + 1, "completed", data={"outputs": outputs}
                        )
                    return
                for item in pending:
                    if item.id in raised:
                        continue
                    position += 1
                    if position > skip:
                        gate = gate_of(item, run_id=self.root)
                        step = gate.step
                        yield self._event(
                            EventKind.GATE_OPENED, index, position, gate.prompt[:200], gate=gate, step=step
                        )
                chain = await self._resumed(index)
                if chain is None:
                    if position + 1 > skip:
                        yield self._event(EventKind.RUN_CANCELLED, index, position + 1, "cancelled while it waited")
                    return
            index, skip = index + 1, 0
            yield self._event(EventKind.RUN_RESUMED, index, 0, "resumed with the answer")

    async def _settled_state(self, chain: list[dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """The thread's state once the server has finished writing it (a run's status may read `success` a moment
        before its thread stops being `busy`), and whether the chain's last run is the thread's newest."""
        for _ in range(50):  # 10 s at most: then the state as it is
            latest = await self.latest(chain)
            if not latest or (await self.wire.thread(self.thread_id)).get("status") != "busy":
                break
            await anyio.sleep(0.2)
        else:
            latest = await self.latest(chain)
        return await self.wire.state(self.thread_id), latest

    async def _failed(self, index: int, position: int, run_id: str, status: str) -> RunEvent:
        if status == "cancelled":
            return self._event(EventKind.RUN_CANCELLED, index, position, "cancelled")
        error = self.last_error
        if error is None:
            error = (await self.wire.thread(self.thread_id)).get("error")
        message = as_dict(error).get("message") or as_dict(error).get("error") or error or f"run {run_id} failed"
        return self._event(EventKind.RUN_FAILED, index, position, "failed", data={"error": str(message)})

    async def latest(self, chain: list[dict[str, Any]]) -> bool:
        """Whether the chain's last run is the thread's newest (another chain on the thread supersedes it)."""
        runs = await self.wire.runs(self.thread_id)
        newest = max(runs, key=lambda r: (str(r.get("created_at") or ""), str(r.get("run_id"))), default=None)
        return newest is None or newest.get("run_id") == chain[-1].get("run_id")

    async def _resumed(self, index: int) -> list[dict[str, Any]] | None:
        """Waits until a newer run joins the chain (returns the chain), or the chain is cancelled (None)."""
        while True:
            await anyio.sleep(self.poll)
            chain = await self.chain()
            if len(chain) > index + 1:
                return chain
            metadata = as_dict((await self.wire.thread(self.thread_id)).get("metadata"))
            if metadata.get(CANCELLED_KEY) == self.root:
                return None

    async def stream(self, run_id: str) -> AsyncGenerator[tuple[int, RawEvent]]:
        """Every event of one run's stream with its position (1-based), exactly once, across rejoins."""
        delivered = 0
        last_id: str | None = None
        before_last: str | None = None  # the id delivered before `last_id`: where a rejoin starts
        same = 0  # events delivered with `last_id`
        failures = 0
        drained = False
        while True:
            # From the start, or after the id delivered before the last one (see the module docstring).
            start, position = ("0", 0) if before_last is None else (before_last, delivered - same)
            progressed = False
            try:
                async with self.wire.stream(self.thread_id, run_id, start) as response:
                    sent = _SentOnce()
                    async for message in iter_messages(response):
                        if not sent.first_time(message.id, message.event, message.data):
                            continue
                        position += 1
                        if position <= delivered:
                            continue
                        if position >= CHAIN_STRIDE:
                            raise StreamError("This LangGraph run sent more events than runbridge can count.")
                        delivered, progressed = position, True
                        if message.id and message.id == last_id:
                            same += 1
                        elif message.id:
                            before_last, last_id, same = last_id, message.id, 1
                        raw = parse(message.event, message.data, message.id)
                        if raw.mode == "error":
                            self.last_error = raw.data
                        if self.on_raw is not None:
                            self.on_raw(position, raw)
                        yield position, raw
            except (httpx2.TransportError, TransportError) as exc:
                if isinstance(exc, StreamError):
                    raise
            status = (await self.wire.run(self.thread_id, run_id)).get("status")
            if status == "pending":  # queued behind another run of the thread: its stream has not begun
                await anyio.sleep(min(self.poll, 0.5))
                continue
            if ended_status(status) is not None:
                if drained:
                    return
                drained = True  # one more join: what the closed connection may have missed
                continue
            failures = 0 if progressed else failures + 1
            if failures >= _POLICY.attempts:
                raise StreamError(f"The run's event stream kept closing while the run went on ({failures} rejoins).")
            await anyio.sleep(0 if progressed else _POLICY.delay(failures - 1))
