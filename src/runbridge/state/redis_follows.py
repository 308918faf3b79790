"""The Redis store's follow leases: which replica follows a run in the background, until when.

A lease is a hash (owner, until) changed under WATCH like a gate's claim, so two replicas never both win it. It is
kept a day past its end (so that the replica that takes a lapsed lease over learns whose it was), then Redis
deletes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ..core.models import utc_now
from .redis_keys import Keys, as_mapping, ident, read_fields, transact
from .store import FollowLease

__all__ = ["claim_follow", "release_follow"]

_KEPT_AFTER = timedelta(days=1)


def _key(keys: Keys, profile: str, run_id: str) -> str:
    return keys("follow", ident(profile, run_id))


async def claim_follow(
    redis: Redis, keys: Keys, profile: str, run_id: str, owner: str, lease_seconds: float
) -> FollowLease | None:
    key = _key(keys, profile, run_id)

    async def decide(pipe: Pipeline) -> tuple[FollowLease | None, bool]:
        fields = await read_fields(pipe, key)
        now = utc_now()
        held_by = fields.get("owner")
        if held_by not in (None, owner) and datetime.fromisoformat(fields["until"]) >= now:
            return None, False
        until = now + timedelta(seconds=lease_seconds)
        pipe.multi()
        pipe.hset(key, mapping=as_mapping({"owner": owner, "until": until.isoformat()}))  # pyright: ignore[reportUnknownMemberType]
        pipe.pexpireat(key, until + _KEPT_AFTER)
        return FollowLease(until=until, taken_from=held_by if held_by not in (None, owner) else None), True

    return await transact(redis, [key], decide)


async def release_follow(redis: Redis, keys: Keys, profile: str, run_id: str, owner: str) -> None:
    key = _key(keys, profile, run_id)

    async def decide(pipe: Pipeline) -> tuple[None, bool]:
        if (await read_fields(pipe, key)).get("owner") != owner:
            return None, False
        pipe.multi()
        pipe.delete(key)
        return None, True

    await transact(redis, [key], decide)
