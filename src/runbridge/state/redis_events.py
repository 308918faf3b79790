"""The Redis store's events: each run's events in a Redis stream, in order of arrival and once per `seq`, capped to
the newest `EVENTS_KEPT` events or `EVENT_BYTES_KEPT` bytes (whichever is fewer), with the number cut remembered.

Beside the stream, a hash maps each kept `seq` to its entry (so a page can start after an event, and an event seen
twice is kept once), and another holds the counts (kept, bytes, cut, the next entry's number). An append reads them
under WATCH and writes the entries, the trim (`XTRIM MINID`) and the counts in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ..core.errors import CursorError
from ..core.models import RunEvent
from .redis_keys import Keys, as_mapping, read_fields, read_stream, transact
from .store import EVENT_BYTES_KEPT, EVENTS_KEPT, StoredEvents

__all__ = ["append_events", "events"]

_READ = 1_000  # entries read at a time when finding where the cut ends


async def append_events(redis: Redis, keys: Keys, profile: str, run_id: str, batch: Sequence[RunEvent]) -> None:
    """Add the events not stored yet (by `seq`), then cut the oldest beyond the bound."""
    if not batch:
        return
    stream, seqs, counts = (
        keys.events(profile, run_id),
        keys.event_seqs(profile, run_id),
        keys.event_counts(profile, run_id),
    )

    async def decide(pipe: Pipeline) -> tuple[None, bool]:
        known = await read_fields(pipe, counts)
        kept, size, cut, n = (int(known.get(name, 0)) for name in ("kept", "bytes", "cut", "next_n"))
        n = max(n, 1)  # entry ids start at 1-0
        stored = await pipe.hmget(seqs, [e.seq for e in batch])  # pyright: ignore[reportUnknownMemberType]
        seen = {seq for seq, at in zip((e.seq for e in batch), stored, strict=True) if at is not None}
        new: list[tuple[int, str, str, int]] = []  # entry number, seq, body, bytes
        for event in batch:
            if event.seq in seen:
                continue
            seen.add(event.seq)
            body = event.model_dump_json()
            new.append((n, event.seq, body, len(body.encode())))
            n += 1
        if not new:
            return None, False
        kept, size = kept + len(new), size + sum(length for *_, length in new)
        dropped: list[tuple[int, str]] = []  # stored entries cut, oldest first: (number, seq)
        if kept > EVENTS_KEPT or size > EVENT_BYTES_KEPT:
            dropped, freed = await _oldest_beyond(pipe, stream, kept, size)
            kept, size, cut = kept - len(dropped), size - freed, cut + len(dropped)
        while new and (kept > EVENTS_KEPT or size > EVENT_BYTES_KEPT):  # a batch beyond the bound on its own
            length = new.pop(0)[3]
            kept, size, cut = kept - 1, size - length, cut + 1
        pipe.multi()
        for number, seq, body, length in new:
            pipe.xadd(stream, {"seq": seq, "size": str(length), "body": body}, id=f"{number}-0")
            pipe.hset(seqs, seq, str(number))  # pyright: ignore[reportUnknownMemberType]
        if dropped:
            pipe.xtrim(stream, minid=f"{dropped[-1][0] + 1}-0", approximate=False)
            pipe.hdel(seqs, *[seq for _, seq in dropped])  # pyright: ignore[reportUnknownMemberType]
        fields = {"kept": kept, "bytes": size, "cut": cut, "next_n": n}
        pipe.hset(counts, mapping=as_mapping({k: str(v) for k, v in fields.items()}))  # pyright: ignore[reportUnknownMemberType]
        return None, True

    await transact(redis, [counts], decide)


async def _oldest_beyond(pipe: Pipeline, stream: str, kept: int, size: int) -> tuple[list[tuple[int, str]], int]:
    """The oldest stored entries to cut so that the rest is within the bound: (number, seq) each, and their bytes."""
    dropped: list[tuple[int, str]] = []
    freed = 0
    start = "-"
    while kept - len(dropped) > EVENTS_KEPT or size - freed > EVENT_BYTES_KEPT:
        entries = await read_stream(pipe, stream, start, "+", _READ)
        if not entries:
            break  # what is left to cut is in the batch being added
        for entry_id, fields in entries:
            if kept - len(dropped) <= EVENTS_KEPT and size - freed <= EVENT_BYTES_KEPT:
                break
            dropped.append((int(entry_id.partition("-")[0]), fields["seq"]))
            freed += int(fields["size"])
        start = "(" + entries[-1][0]
    return dropped, freed


async def events(redis: Redis, keys: Keys, profile: str, run_id: str, after: str | None, limit: int) -> StoredEvents:
    """Up to `limit` events after the one whose seq is `after` (None: from the oldest kept). An `after` that is not
    among the kept events raises `CursorError`: going on from elsewhere would repeat or skip events."""
    start = "-"
    if after is not None:
        number = await redis.hget(keys.event_seqs(profile, run_id), after)  # pyright: ignore[reportUnknownMemberType]
        if number is None:
            raise CursorError(after)
        start = f"({number}-0"
    entries = await read_stream(redis, keys.events(profile, run_id), start, "+", limit + 1)
    cut = await redis.hget(keys.event_counts(profile, run_id), "cut")  # pyright: ignore[reportUnknownMemberType]
    page = entries[:limit]
    return StoredEvents(
        events=[RunEvent.model_validate_json(fields["body"]) for _, fields in page],
        next_after=page[-1][1]["seq"] if len(entries) > limit else None,
        cut=int(cut or 0),
    )
