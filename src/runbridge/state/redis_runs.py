"""The Redis store's runs: a hash per run, written under WATCH so a status never moves backwards whoever writes it,
listed newest first off sorted sets (every run, per profile, per status), and summed for usage.

A run's place in the lists is when runbridge first recorded it and a number Redis counts out (`INCR`), so reading or
updating a run never moves it, and two runs recorded in the same microsecond still have an order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ..core.models import Page, Run, RunStatus, Usage, utc_now
from .cursors import decode_cursor, encode_cursor
from .records import keeps_status, run_record, stored_json, stored_usage
from .redis_keys import (
    Fields,
    Keys,
    as_mapping,
    cursor_time,
    id_of,
    ident,
    read_fields,
    read_lex,
    read_lex_back,
    read_many,
    time_key,
    transact,
)
from .redis_usage import add_run
from .store import RunRecord

__all__ = [
    "get_fields",
    "get_run",
    "list_runs",
    "record_run",
    "runs_since",
    "set_locator",
    "update_run",
]

Change = Callable[[Fields | None], Fields]


async def record_run(
    redis: Redis, keys: Keys, profile: str, run: Run, locator: dict[str, str] | None, user: str | None = None
) -> None:
    def change(old: Fields | None) -> Fields:
        new = {"status": run.status.value, "target_id": run.target_id, "error": run.error}
        new["locator"] = stored_json(locator)
        new["started_by"] = (old or {}).get("started_by", user)  # who started it is kept from the first record
        if old is not None and keeps_status(old["status"], run.status):
            new["status"] = old["status"]
        return _present(new)

    await _upsert(redis, keys, profile, run.run_id, change)


async def update_run(
    redis: Redis,
    keys: Keys,
    profile: str,
    run_id: str,
    *,
    status: RunStatus | None = None,
    cursor: str | None = None,
    error: str | None = None,
    usage: Usage | None = None,
    target_id: str | None = None,
    outputs: Any = None,
) -> None:
    """Record what a watch learned: what it was not told is kept, so is a target already recorded, and so is an end
    or a wait where the new status is only `unknown`."""

    def change(old: Fields | None) -> Fields:
        new = {"cursor": cursor, "error": error, "outputs": stored_json(outputs), "usage": stored_usage(usage)}
        if old is None:
            new |= {"status": status.value if status else RunStatus.UNKNOWN.value, "target_id": target_id}
        else:
            if "target_id" not in old:
                new["target_id"] = target_id
            if status is not None and not keeps_status(old["status"], status):
                new["status"] = status.value
        return _present(new)

    await _upsert(redis, keys, profile, run_id, change)


async def get_fields(redis: Redis, keys: Keys, profile: str, run_id: str) -> Fields | None:
    return await read_fields(redis, keys.run(profile, run_id)) or None


async def get_run(redis: Redis, keys: Keys, profile: str, run_id: str) -> RunRecord | None:
    fields = await get_fields(redis, keys, profile, run_id)
    return run_record(fields) if fields else None


async def list_runs(
    redis: Redis,
    keys: Keys,
    profile: str | None,
    cursor: str | None,
    limit: int,
    status: RunStatus | None,
    user: str | None = None,
) -> Page[RunRecord]:
    """Newest first, from just before the cursor's run (a keyset: runs added since do not shift the pages); with
    `user`, only that user's runs (the index is read on in batches past the others')."""
    top = "+"
    if cursor:
        created, n = decode_cursor(cursor, (str, int))
        top = "(" + cursor_time(cursor, str(created)) + f"{n:020d}"
    index = keys.runs(profile, status.value if status else None)
    found: list[tuple[RunRecord, int]] = []
    while len(found) <= limit:
        members = await read_lex_back(redis, index, top, "-", limit + 1)
        if not members:
            break
        batch = await _records(redis, keys, members)
        found += [(record, n) for record, n in batch if user is None or record.user == user]
        if user is None or len(members) <= limit:
            break
        top = "(" + members[-1]
    page = found[:limit]
    more = encode_cursor(page[-1][0].created_at.isoformat(), page[-1][1]) if len(found) > limit else None
    return Page[RunRecord].of([record for record, _ in page], more)


async def runs_since(redis: Redis, keys: Keys, profile: str | None, since: datetime) -> list[RunRecord]:
    """The runs first recorded at or after `since`, oldest first."""
    members = await read_lex(redis, keys.runs(profile), "[" + time_key(since), "+")
    return [record for record, _ in await _records(redis, keys, members)]


async def set_locator(redis: Redis, keys: Keys, profile: str, run_id: str, locator: dict[str, str]) -> bool:
    """Merge `locator`'s keys into the run's; False (and nothing written) when the run is not recorded."""
    key = keys.run(profile, run_id)

    async def decide(pipe: Pipeline) -> tuple[bool, bool]:
        known = await pipe.hget(key, "locator")  # pyright: ignore[reportUnknownMemberType]
        if known is None and not await pipe.exists(key):
            return False, False
        merged = (json.loads(known) if known else {}) | locator
        pipe.multi()
        pipe.hset(key, "locator", json.dumps(merged))  # pyright: ignore[reportUnknownMemberType]
        return True, True

    return await transact(redis, [key], decide)


async def _records(redis: Redis, keys: Keys, members: Iterable[str]) -> list[tuple[RunRecord, int]]:
    """The runs `members` (list entries) name, in their order, each with its number; one round trip."""
    rows = await read_many(redis, [keys.run(*id_of(member)) for member in members])
    return [(run_record(row), int(row["n"])) for row in rows if row]


async def _upsert(redis: Redis, keys: Keys, profile: str, run_id: str, change: Change) -> None:
    """Write what `change` makes of the run's fields (None: not recorded yet), and move it between the status lists
    when its status changes; one transaction."""
    key = keys.run(profile, run_id)

    async def decide(pipe: Pipeline) -> tuple[None, bool]:
        old = await read_fields(pipe, key) or None
        new = change(old)
        now = utc_now().isoformat()
        if old is None:
            n = int(await pipe.incr(keys("runs-counted")))  # on the watched connection: never a second one
            created = utc_now()
            member = time_key(created) + f"{n:020d}\x00" + ident(profile, run_id)
            new |= {"profile": profile, "run_id": run_id, "created_at": created.isoformat(), "n": str(n)}
            new |= {"member": member, "updated_at": now}
            pipe.multi()
            pipe.hset(key, mapping=as_mapping(new))  # pyright: ignore[reportUnknownMemberType]
            for index in (keys.runs(None), keys.runs(profile)):
                pipe.zadd(index, {member: 0})
            for index in (keys.runs(None, new["status"]), keys.runs(profile, new["status"])):
                pipe.zadd(index, {member: 0})
            add_run(pipe, keys, new, 1)
            return None, True
        pipe.multi()
        pipe.hset(key, mapping=as_mapping(new | {"updated_at": now}))  # pyright: ignore[reportUnknownMemberType]
        merged = old | new
        if any(merged.get(name) != old.get(name) for name in ("status", "target_id", "usage")):
            add_run(pipe, keys, old, -1)
            add_run(pipe, keys, merged, 1)
        if "status" in new and new["status"] != old["status"]:
            member = old["member"]
            for index in (keys.runs(None, old["status"]), keys.runs(profile, old["status"])):
                pipe.zrem(index, member)
            for index in (keys.runs(None, new["status"]), keys.runs(profile, new["status"])):
                pipe.zadd(index, {member: 0})
        return None, True

    await transact(redis, [key], decide)


def _present(fields: dict[str, str | None]) -> Fields:
    return {name: value for name, value in fields.items() if value is not None}
