"""The Redis store's tasks: an MCP task bound to a run, a hash that Redis deletes once past its ttl, listed per owner
newest first off a sorted set (entries of tasks Redis deleted are dropped as they are met), moving forward only,
and followed by one process at a time (a lease, changed under WATCH like a gate's claim).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ..core.errors import InputError
from ..core.models import Page, utc_now
from .cursors import decode_cursor
from .records import task_expires, task_json, task_page, task_record, task_stored
from .redis_keys import (
    Fields,
    Keys,
    as_mapping,
    cursor_time,
    ident,
    read_fields,
    read_lex_back,
    read_many,
    read_set,
    time_key,
    transact,
)
from .store import TaskRecord, TaskStatus

__all__ = ["claim_task", "get_task", "list_tasks", "record_task", "tasks_of_run", "update_task"]

_READ = 100  # list entries read at a time while filling a page


async def record_task(redis: Redis, keys: Keys, task: TaskRecord) -> None:
    if not await redis.exists(keys.run(task.profile, task.run_id)):
        raise InputError(f"Run {task.run_id!r} is not recorded on profile {task.profile!r}: a task needs its run.")
    key = keys.task(task.task_id)
    member = time_key(task.created_at) + "\x00" + task.task_id + "\x00" + ident(task.task_id)
    fields = {
        name: str(value) for name, value in task_stored(task, json.dumps(task.owner)).items() if value is not None
    }
    expires = task_expires(task)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=as_mapping(fields))  # pyright: ignore[reportUnknownMemberType]
        if expires is not None:  # Redis deletes it then; reads check the time too (`_live`)
            pipe.pexpireat(key, expires)
        pipe.zadd(keys.tasks(task.owner), {member: 0})
        pipe.sadd(keys.tasks_of_run(task.profile, task.run_id), task.task_id)  # pyright: ignore[reportUnknownMemberType]
        await pipe.execute()


async def get_task(redis: Redis, keys: Keys, task_id: str) -> TaskRecord | None:
    return _live(await read_fields(redis, keys.task(task_id)))


async def update_task(
    redis: Redis,
    keys: Keys,
    task_id: str,
    *,
    status: TaskStatus | None = None,
    status_message: str | None = None,
    gate_id: str | None = None,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> TaskRecord | None:
    key = keys.task(task_id)

    async def decide(pipe: Pipeline) -> tuple[TaskRecord | None, bool]:
        fields = await read_fields(pipe, key)
        task = _live(fields)
        if task is None or task.ended:
            return task, False
        now = status or fields["status"]
        new = {"status": now, "status_message": status_message, "result": task_json(result), "error": task_json(error)}
        new["updated_at"] = utc_now().isoformat()
        waiting_on = (gate_id or fields.get("gate_id")) if now == "input_required" else None
        changed = fields | {k: v for k, v in new.items() if v is not None}
        changed.pop("gate_id", None)
        if waiting_on is not None:
            changed["gate_id"] = waiting_on
        pipe.multi()
        pipe.hset(key, mapping=as_mapping({k: v for k, v in new.items() if v is not None}))  # pyright: ignore[reportUnknownMemberType]
        if waiting_on is None:
            pipe.hdel(key, "gate_id")  # pyright: ignore[reportUnknownMemberType]
        else:
            pipe.hset(key, "gate_id", waiting_on)  # pyright: ignore[reportUnknownMemberType]
        return _record(changed), True

    return await transact(redis, [key], decide)


async def list_tasks(
    redis: Redis, keys: Keys, owner: str | None, *, cursor: str | None, limit: int
) -> Page[TaskRecord]:
    """`owner`'s tasks newest first, from just before the cursor's task; past their ttl left out."""
    top = "+"
    if cursor:
        created, task_id = decode_cursor(cursor, (str, str))
        top = "(" + cursor_time(cursor, str(created)) + "\x00" + str(task_id)
    index = keys.tasks(owner)
    found: list[TaskRecord] = []
    while len(found) <= limit:
        members = await read_lex_back(redis, index, top, "-", _READ)
        if not members:
            break
        rows = await _rows(redis, keys, members)
        gone = [m for m, fields in zip(members, rows, strict=True) if not fields]
        if gone:
            await redis.zrem(index, *gone)  # deleted by Redis at their ttl
        found += [task for task in map(_live, rows) if task is not None]
        top = "(" + members[-1]
    return task_page(found, limit)


async def tasks_of_run(redis: Redis, keys: Keys, profile: str, run_id: str) -> list[TaskRecord]:
    """The run's tasks that have not ended, oldest first."""
    ids = await read_set(redis, keys.tasks_of_run(profile, run_id))
    rows = await _rows(redis, keys, [ident(task_id) for task_id in ids], by_id=True)
    records = [task for task in map(_live, rows) if task is not None and not task.ended]
    return sorted(records, key=lambda t: (time_key(t.created_at), t.task_id))


async def claim_task(redis: Redis, keys: Keys, task_id: str, runner: str, lease_seconds: float) -> bool:
    key = keys.task(task_id)

    async def decide(pipe: Pipeline) -> tuple[bool, bool]:
        task = _live(await read_fields(pipe, key))
        if task is None or task.ended:
            return False, False
        now = utc_now()
        if task.runner not in (None, runner) and task.runner_until is not None and task.runner_until >= now:
            return False, False
        pipe.multi()
        lease = (now + timedelta(seconds=lease_seconds)).isoformat()
        pipe.hset(key, mapping=as_mapping({"runner": runner, "runner_until": lease}))  # pyright: ignore[reportUnknownMemberType]
        return True, True

    return await transact(redis, [key], decide)


async def _rows(redis: Redis, keys: Keys, members: list[str], *, by_id: bool = False) -> list[Fields]:
    ids = [json.loads(member if by_id else member.rpartition("\x00")[2])[0] for member in members]
    return await read_many(redis, [keys.task(task_id) for task_id in ids])


def _live(fields: Fields) -> TaskRecord | None:
    """The task `fields` hold; None when there are none, or it is past its ttl (Redis deletes it a moment later)."""
    if not fields:
        return None
    task = _record(fields)
    expires = task_expires(task)
    return task if expires is None or expires > utc_now() else None


def _record(fields: Fields) -> TaskRecord:
    return task_record(fields, json.loads(fields["owner"]))
