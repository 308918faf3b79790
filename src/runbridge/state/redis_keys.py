"""The Redis store's keys and sort keys, and its one way of changing records: a WATCH/MULTI transaction.

Every key starts with the store's prefix. A record's key ends with the JSON array of what names it (a profile and a
run id...), so no id can be mistaken for another whatever characters it holds. Lists are lexicographic sorted sets
(every score 0): a member starts with fixed-width sort keys (a time as microseconds since year 1, a sequence
number), so `ZRANGEBYLEX` reads a keyset page from just after a cursor's row, and ends with the record's id.

A change is read, decided in Python and written under WATCH on the keys it read: if another process wrote one of
them in between, the transaction is retried on what is there now. Two processes never both win.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from ..core.errors import CursorError, RunbridgeError

__all__ = [
    "Fields",
    "Keys",
    "as_mapping",
    "cursor_time",
    "id_of",
    "ident",
    "read_fields",
    "read_lex",
    "read_lex_back",
    "read_many",
    "read_set",
    "read_stream",
    "time_key",
    "transact",
]

T = TypeVar("T")

_YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
_RETRIES = 50  # a transaction retried this often lost to other writers every time: said, not looped on forever


def ident(*parts: str | None) -> str:
    """The id of a record (the end of its key, and of its members in lists)."""
    return json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)


def id_of(member: str) -> list[str]:
    """The parts of the id a list member ends with (after its sort keys and a NUL)."""
    return json.loads(member.rpartition("\x00")[2])


def time_key(moment: datetime) -> str:
    """A moment as a fixed-width sort key: microseconds since year 1, UTC (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _YEAR_ONE
    return f"{(delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds:020d}"


def cursor_time(cursor: str, text: str) -> str:
    """The sort key of a cursor's time; a time that does not parse is a cursor runbridge did not give out."""
    try:
        return time_key(datetime.fromisoformat(text))
    except (ValueError, OverflowError):
        raise CursorError(cursor) from None


class Keys:
    """The store's key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # runs
    def run(self, profile: str, run_id: str) -> str:
        return self("run", ident(profile, run_id))

    def runs(self, profile: str | None, status: str | None = None) -> str:
        """Runs, oldest first (created, n): of one profile or (None) every profile, of one status or (None) any."""
        return self("runs", ident(profile, status))

    # gates
    def gate(self, profile: str, gate_id: str) -> str:
        return self("gate", ident(profile, gate_id))

    def gates(self, profile: str | None, state: str) -> str:
        """Gates of one state (of one profile, or every profile's), oldest first (opened, gate id)."""
        return self("gates", ident(profile, state))

    def gates_of_run(self, profile: str | None, run_id: str) -> str:
        """A run's gate ids (of one profile), or (None) `ident(profile, gate_id)` of each across profiles."""
        return self("gates-of-run", ident(profile, run_id))

    # events
    def events(self, profile: str, run_id: str) -> str:
        return self("events", ident(profile, run_id))

    def event_seqs(self, profile: str, run_id: str) -> str:
        return self("event-seqs", ident(profile, run_id))

    def event_counts(self, profile: str, run_id: str) -> str:
        return self("event-counts", ident(profile, run_id))

    # tasks
    def task(self, task_id: str) -> str:
        return self("task", ident(task_id))

    def tasks(self, owner: str | None) -> str:
        return self("tasks", ident(owner))

    def tasks_of_run(self, profile: str, run_id: str) -> str:
        return self("tasks-of-run", ident(profile, run_id))


async def transact(redis: Redis, keys: list[str], decide: Callable[[Pipeline], Awaitable[tuple[T, bool]]]) -> T:
    """Run `decide(pipe)` with `keys` watched: it reads through `pipe` (immediate mode), then either queues its
    writes after `pipe.multi()` and returns (result, True), or returns (result, False) to write nothing. Retried
    while another process wrote a watched key in between."""
    for _ in range(_RETRIES):
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*keys)
                result, write = await decide(pipe)
                if write:
                    await pipe.execute()
                return result
            except WatchError:
                continue
    raise RunbridgeError("runbridge's run store is too busy right now (a record kept changing under it). Try again")


# Typed reads: the client is made with `decode_responses=True`, so every reply is text (its stubs cannot say so).
Client = Redis | Pipeline
Fields = dict[str, str]  # a record's hash (empty: no such record)


async def read_fields(client: Client, key: str) -> Fields:
    return cast(Fields, await client.hgetall(key))  # pyright: ignore[reportUnknownMemberType]


async def read_many(redis: Redis, keys: list[str]) -> list[Fields]:
    """The hashes at `keys`, in their order (empty where there is none); one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)  # pyright: ignore[reportUnknownMemberType]
        return cast(list[Fields], await pipe.execute())


async def read_set(client: Client, key: str) -> set[str]:
    return cast(set[str], await client.smembers(key))  # pyright: ignore[reportUnknownMemberType,reportGeneralTypeIssues]


async def read_lex(client: Client, key: str, low: str, high: str, count: int | None = None) -> list[str]:
    """Members from `low` up to `high` (ZRANGEBYLEX), the first `count` of them (None: all)."""
    if count is None:
        return cast(list[str], await client.zrangebylex(key, low, high))
    return cast(list[str], await client.zrangebylex(key, low, high, start=0, num=count))


async def read_lex_back(client: Client, key: str, high: str, low: str, count: int) -> list[str]:
    """Members from `high` down to `low` (ZREVRANGEBYLEX), the first `count` of them."""
    return cast(list[str], await client.zrevrangebylex(key, high, low, start=0, num=count))


def as_mapping(fields: Mapping[str, str]) -> Any:
    """`fields` as the client's `hset(mapping=)` takes them."""
    return fields


async def read_stream(client: Client, key: str, low: str, high: str, count: int) -> list[tuple[str, dict[str, str]]]:
    """Up to `count` stream entries from `low` to `high` (XRANGE): (entry id, fields) each."""
    return cast(list[tuple[str, dict[str, str]]], await client.xrange(key, min=low, max=high, count=count))
