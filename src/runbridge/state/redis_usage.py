"""The Redis store's usage sums, kept per (profile, UTC day, target, status) as runs are written, so a report over
many days reads a few hundred sums instead of every run.

Each write of a run that changes its status, target or usage takes the run's old figures out of its day's sums and
adds the new ones, in the same transaction as the run itself (`redis_runs`): the sums are never behind the runs,
whichever replica wrote them. A report adds up the days after the first one inside Redis (one Lua call, `_SUM_DAYS`),
and reads the first (partial) day's runs themselves, only the fields it needs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from .records import USAGE_COUNTED, USAGE_FIGURES, USAGE_SUMS, add_sums, usage_sums_of
from .redis_keys import Keys, id_of, ident, read_lex, time_key
from .store import UsageKey, UsageSums

__all__ = ["add_run", "usage_sums"]

_GROUP = {"profile": 0, "day": 1, "target": 2, "status": 3}

# The days after the first one, summed inside Redis (one call, nothing per group read back into Python): each entry
# of the days' list names a group's hash; its sums are added to those of its `group_by` key. Returns, per key, the
# key and its sums as text (Lua numbers would come back truncated to integers).
_SUM_DAYS = """
local low, profile, only, pos, prefix = ARGV[1], ARGV[2], ARGV[3] == '1', tonumber(ARGV[4]), ARGV[5]
local names = {}
for i = 6, #ARGV do names[#names + 1] = ARGV[i] end
local sums, order = {}, {}
for _, member in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], low, '+')) do
  local id = string.sub(member, string.find(member, '\0', 1, true) + 1)
  local group = cjson.decode(id)
  if not only or group[1] == profile then
    local values = redis.call('HMGET', prefix .. id, unpack(names))
    local key = group[pos]
    if sums[key] == nil then
      sums[key] = {}
      for i = 1, #names do sums[key][i] = 0 end
      order[#order + 1] = key
    end
    for i = 1, #names do sums[key][i] = sums[key][i] + (tonumber(values[i]) or 0) end
  end
end
local out = {}
for _, key in ipairs(order) do
  out[#out + 1] = key
  for i = 1, #names do out[#out + 1] = string.format('%.17g', sums[key][i]) end
end
return out
"""


def _group_of(fields: dict[str, str]) -> tuple[str, str, str, str]:
    return (fields["profile"], fields["created_at"][:10], fields.get("target_id", ""), fields["status"])


def _figures(fields: dict[str, str]) -> list[float]:
    """One run's part of its group's sums, in `USAGE_SUMS` order."""
    usage: dict[str, Any] = json.loads(fields["usage"]) if fields.get("usage") else {}
    values: list[float] = [1, 1 if usage else 0]
    values += [usage.get(name) or 0 for name in (*USAGE_FIGURES, *USAGE_COUNTED)]
    values += [1 if usage.get(name) is not None else 0 for name in USAGE_COUNTED]
    return values


def add_run(pipe: Pipeline, keys: Keys, fields: dict[str, str], sign: int) -> None:
    """Queue adding (`sign` 1) or taking away (-1) a run's figures to or from its group's sums."""
    group = _group_of(fields)
    key = keys("usage", ident(*group))
    for name, value in zip(USAGE_SUMS, _figures(fields), strict=True):
        if value:
            if isinstance(value, float):
                pipe.hincrbyfloat(key, name, sign * value)  # pyright: ignore[reportUnknownMemberType]
            else:
                pipe.hincrby(key, name, sign * value)  # pyright: ignore[reportUnknownMemberType]
    if sign > 0:
        pipe.zadd(keys("usage-days"), {group[1] + "\x00" + ident(*group): 0})


async def usage_sums(
    redis: Redis, keys: Keys, profile: str | None, since: datetime, group_by: UsageKey
) -> list[UsageSums]:
    """The runs first recorded at or after `since` and their usage, summed per `group_by` key."""
    since = since.astimezone(UTC)
    first_day = since.date().isoformat()
    next_day = datetime.combine(since.date(), datetime.min.time(), UTC) + timedelta(days=1)
    merged: dict[str, list[float]] = {}

    def add(group: tuple[str, ...], values: list[float]) -> None:  # a run of the first day
        if profile is not None and group[0] != profile:
            return
        add_sums(merged, group[_GROUP[group_by]], values)

    days = keys("usage-days")
    summed = await redis.eval(  # pyright: ignore[reportUnknownMemberType]
        _SUM_DAYS,
        1,
        days,
        "(" + first_day + "\x00~",
        profile or "",
        "1" if profile is not None else "",
        str(_GROUP[group_by] + 1),
        keys("usage", ""),
        *USAGE_SUMS,
    )
    flat = cast(list[str], summed)
    width = len(USAGE_SUMS) + 1
    for at in range(0, len(flat), width):
        add_sums(merged, flat[at], [float(v) for v in flat[at + 1 : at + width]])
    members = await read_lex(redis, keys.runs(profile), "[" + time_key(since), "(" + time_key(next_day))
    wanted = ["profile", "created_at", "target_id", "status", "usage"]
    async with redis.pipeline(transaction=False) as pipe:
        for member in members:
            pipe.hmget(keys.run(*id_of(member)), wanted)  # pyright: ignore[reportUnknownMemberType]
        runs = cast(list[list[str | None]], await pipe.execute())
    for values in runs:
        fields = {name: value for name, value in zip(wanted, values, strict=True) if value is not None}
        if "status" in fields:
            add(_group_of(fields), _figures(fields))
    return usage_sums_of(merged)
