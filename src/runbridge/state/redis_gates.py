"""The Redis store's gates: a hash per gate, listed oldest first off one sorted set per state (per profile and for
every profile), and answered at most once through a claim that is a lease (an owner and an expiry). A claim, a
take-over and every other change of state is one WATCH/MULTI transaction on the gate's hash: of two processes, one
wins and the other reads the gate as the winner left it.
"""

from __future__ import annotations

import heapq
import json
from datetime import timedelta
from typing import cast, get_args

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ..core.errors import GateError, InputError
from ..core.models import Gate, Page, utc_now
from .cursors import decode_cursor, encode_cursor
from .records import claim_taken_over, gate_json, gate_record, stale_for
from .redis_keys import (
    Fields,
    Keys,
    as_mapping,
    cursor_time,
    id_of,
    ident,
    read_fields,
    read_lex,
    read_many,
    read_set,
    time_key,
    transact,
)
from .store import GateRecord, GateState, closed_reason

__all__ = [
    "claim_gate",
    "close_gates",
    "finish_gate",
    "gates",
    "get_gate",
    "record_gate",
    "stale_claims",
    "take_over",
    "update_gate",
]

_ALL_STATES: tuple[GateState, ...] = get_args(GateState)


async def record_gate(redis: Redis, keys: Keys, profile: str, gate: Gate) -> bool:
    """Remember a gate (first sighting wins); True when it was new."""
    gate = gate.model_copy(update={"profile": profile})
    key = keys.gate(profile, gate.gate_id)

    async def decide(pipe: Pipeline) -> tuple[bool, bool]:
        if await pipe.exists(key):
            return False, False
        member = time_key(gate.opened_at) + "\x00" + gate.gate_id + "\x00" + ident(profile, gate.gate_id)
        fields = {"gate": gate_json(gate), "state": "open", "member": member}
        pipe.multi()
        pipe.hset(key, mapping=as_mapping(fields))  # pyright: ignore[reportUnknownMemberType]
        pipe.zadd(keys.gates(profile, "open"), {member: 0})
        pipe.zadd(keys.gates(None, "open"), {member: 0})
        pipe.sadd(keys.gates_of_run(profile, gate.run_id), gate.gate_id)  # pyright: ignore[reportUnknownMemberType]
        pipe.sadd(keys.gates_of_run(None, gate.run_id), ident(profile, gate.gate_id))  # pyright: ignore[reportUnknownMemberType]
        return True, True

    return await transact(redis, [key], decide)


async def update_gate(redis: Redis, keys: Keys, profile: str, gate: Gate) -> None:
    """Replace what a known gate shows (a quorum's vote count after a vote), keeping its state and history."""
    gate = gate.model_copy(update={"profile": profile})
    key = keys.gate(profile, gate.gate_id)

    async def decide(pipe: Pipeline) -> tuple[None, bool]:
        if not await pipe.exists(key):
            return None, False
        pipe.multi()
        pipe.hset(key, "gate", gate_json(gate))  # pyright: ignore[reportUnknownMemberType]
        return None, True

    await transact(redis, [key], decide)


async def get_gate(redis: Redis, keys: Keys, profile: str, gate_id: str) -> GateRecord | None:
    fields = await read_fields(redis, keys.gate(profile, gate_id))
    return gate_record(fields) if fields else None


async def gates(
    redis: Redis,
    keys: Keys,
    profile: str | None,
    run_id: str | None,
    states: tuple[GateState, ...],
    cursor: str | None,
    limit: int | None,
) -> Page[GateRecord]:
    """Oldest first (opened, gate id), from just after the cursor's gate; every matching gate when `limit` is None.
    A run's gates are read from the run's set (one per profile, and one across profiles); otherwise the lists of the
    states asked for are merged."""
    low = "-"
    if cursor:
        opened, gate_id = decode_cursor(cursor, (str, str))
        low = "(" + cursor_time(cursor, str(opened)) + "\x00" + str(gate_id) + "\x00~"  # past every id after it
    wanted = tuple(dict.fromkeys(s for s in states if s in _ALL_STATES))
    if run_id is not None:  # a run's gates, from the run's set: a few, however many the store holds
        if profile is not None:
            ids = await read_set(redis, keys.gates_of_run(profile, run_id))
            gate_keys = [keys.gate(profile, gate_id) for gate_id in ids]
        else:
            named = await read_set(redis, keys.gates_of_run(None, run_id))
            gate_keys = [keys.gate(*json.loads(name)) for name in named]
        found = [f for f in await _fields(redis, gate_keys) if f["state"] in wanted]
        fields = sorted((f for f in found if low == "-" or f["member"] > low[1:]), key=lambda f: f["member"])
        fields = fields if limit is None else fields[: limit + 1]
    else:
        count = None if limit is None else limit + 1
        lists = [await _range(redis, keys.gates(profile, state), low, count) for state in wanted]
        members = list(heapq.merge(*lists))
        members = members if limit is None else members[: limit + 1]
        fields = await _fields(redis, [keys.gate(*id_of(m)) for m in members])
    return _page([gate_record(f) for f in fields], limit)


async def claim_gate(redis: Redis, keys: Keys, profile: str, gate_id: str, owner: str, lease_seconds: float) -> Gate:
    """Take the right to answer a gate until `lease_seconds` from now; raises `GateError` saying why when it is not
    open."""
    key = keys.gate(profile, gate_id)

    async def decide(pipe: Pipeline) -> tuple[Gate, bool]:
        fields = await read_fields(pipe, key)
        if not fields:
            raise InputError(f"Unknown gate {gate_id!r} on profile {profile!r}. Call gates_list to see open gates.")
        record = gate_record(fields)
        if record.state != "open":
            raise GateError(closed_reason(gate_id, record))
        until = utc_now() + timedelta(seconds=lease_seconds)
        pipe.multi()
        _move(pipe, keys, key, profile, fields, "answering", {"owner": owner, "lease_until": until.isoformat()})
        return record.gate, True

    return await transact(redis, [key], decide)


async def finish_gate(
    redis: Redis, keys: Keys, profile: str, gate_id: str, owner: str, state: GateState, decision: str | None
) -> None:
    """Settle a claimed gate: `answered`/`declined`, or back to `open` when the answer did not go through. A claim
    another process took over (this one's lease lapsed) is theirs to settle."""
    key = keys.gate(profile, gate_id)

    async def decide(pipe: Pipeline) -> tuple[None, bool]:
        fields = await read_fields(pipe, key)
        if not fields or fields.get("owner") not in (None, owner):
            return None, False
        answered = utc_now().isoformat() if state in ("answered", "declined") else None
        pipe.multi()
        _move(pipe, keys, key, profile, fields, state, {"answered_at": answered, "decision": decision})
        pipe.hdel(key, "owner", "lease_until")  # pyright: ignore[reportUnknownMemberType]
        return None, True

    await transact(redis, [key], decide)


async def close_gates(redis: Redis, keys: Keys, profile: str, run_id: str, keep: str | None) -> None:
    """A run ended (or moved past its gates): its open gates can no longer be answered."""
    ids = await read_set(redis, keys.gates_of_run(profile, run_id))
    for gate_id in sorted(ids - {keep} if keep is not None else ids):
        key = keys.gate(profile, gate_id)

        async def decide(pipe: Pipeline, key: str = key) -> tuple[None, bool]:
            fields = await read_fields(pipe, key)
            if fields.get("state") != "open":
                return None, False
            pipe.multi()
            _move(pipe, keys, key, profile, fields, "closed", {})
            return None, True

        await transact(redis, [key], decide)


async def stale_claims(redis: Redis, keys: Keys, profile: str | None, owner: str) -> list[GateRecord]:
    """`answering` gates whose lease lapsed, or whose owner was a process on this host that is gone."""
    members = await read_lex(redis, keys.gates(profile, "answering"), "-", "+")
    now = utc_now()
    records = [gate_record(f) for f in await _fields(redis, [keys.gate(*id_of(m)) for m in members])]
    return [r for r in records if stale_for(r, owner, now)]


async def take_over(
    redis: Redis, keys: Keys, profile: str, gate_id: str, owner: str, lease_seconds: float
) -> GateRecord | None:
    """Move a stale claim to `owner`; None when it is not stale (any more) or another process took it first."""
    key = keys.gate(profile, gate_id)

    async def decide(pipe: Pipeline) -> tuple[GateRecord | None, bool]:
        fields = await read_fields(pipe, key)
        taken = claim_taken_over(gate_record(fields) if fields else None, owner, lease_seconds)
        if taken is None or taken.lease_until is None:
            return None, False
        pipe.multi()
        pipe.hset(key, mapping=as_mapping({"owner": owner, "lease_until": taken.lease_until.isoformat()}))  # pyright: ignore[reportUnknownMemberType]
        return taken, True

    return await transact(redis, [key], decide)


def _move(
    pipe: Pipeline, keys: Keys, key: str, profile: str, fields: Fields, state: GateState, more: dict[str, str | None]
) -> None:
    """Queue the move of the gate at `key` to `state` (its lists too) and the fields that go with it (None:
    removed)."""
    member = fields["member"]
    if fields["state"] != state:
        for where in (profile, None):
            pipe.zrem(keys.gates(where, fields["state"]), member)
            pipe.zadd(keys.gates(where, state), {member: 0})
    kept = {name: value for name, value in more.items() if value is not None}
    pipe.hset(key, mapping=as_mapping({"state": state, **kept}))  # pyright: ignore[reportUnknownMemberType]
    gone = [name for name, value in more.items() if value is None]
    if gone:
        pipe.hdel(key, *gone)  # pyright: ignore[reportUnknownMemberType]


async def _range(redis: Redis, key: str, low: str, count: int | None) -> list[str]:
    return await read_lex(redis, key, low, "+", count)


async def _fields(redis: Redis, gate_keys: list[str]) -> list[Fields]:
    return [row for row in await read_many(redis, gate_keys) if row]


async def gates_of_user(
    redis: Redis,
    keys: Keys,
    profile: str | None,
    run_id: str | None,
    states: tuple[GateState, ...],
    cursor: str | None,
    limit: int,
    user: str,
) -> Page[GateRecord]:
    """`gates`, only those of the runs `user` started: the lists are read on in pages past other users' gates."""
    kept: list[GateRecord] = []
    owners: dict[tuple[str, str], str | None] = {}
    after = cursor
    while len(kept) <= limit:
        page = await gates(redis, keys, profile, run_id, states, after, limit)
        for record in page.items:
            run = (record.gate.profile, record.gate.run_id)
            if run not in owners:
                owners[run] = cast(str | None, await redis.hget(keys.run(*run), "started_by"))  # pyright: ignore[reportUnknownMemberType]
            if owners[run] == user:
                kept.append(record)
        after = page.next_cursor
        if after is None:
            break
    return _page(kept, limit)


def _page(found: list[GateRecord], limit: int | None) -> Page[GateRecord]:
    """The first `limit` of `found` (every one when None), and the cursor that goes on after the last of them when
    there are more."""
    page = found if limit is None else found[:limit]
    last = page[-1] if limit is not None and len(found) > limit and page else None
    return Page[GateRecord].of(
        page, encode_cursor(last.gate.opened_at.isoformat(), last.gate.gate_id) if last else None
    )
