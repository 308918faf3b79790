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

from ..core.models import Usage
from .redis_keys import Keys, id_of, ident, read_lex, time_key
from .store import UsageKey, UsageSums

__all__ = ["add_run", "usage_sums"]

_FIGURES = ("input_tokens", "output_tokens", "total_tokens")
_COUNTED = ("cost_usd", "turns")  # absent from a run's usage unless its backend reported them: counted apart
_SUMS = ("runs", "with_usage", *_FIGURES, *_COUNTED, "cost_runs", "turns_runs")
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
    """One run's part of its group's sums, in `_SUMS` order."""
    usage: dict[str, Any] = json.loads(fields["usage"]) if fields.get("usage") else {}
    values: list[float] = [1, 1 if usage else 0]
    values += [usage.get(name) or 0 for name in (*_FIGURES, *_COUNTED)]
    values += [1 if usage.get(name) is not None else 0 for name in _COUNTED]
    return values


def add_run(pipe: Pipeline, keys: Keys, fields: dict[str, str], sign: int) -> None:
    """Queue adding (`sign` 1) or taking away (-1) a run's figures to or from its group's sums."""
    group = _group_of(fields)
    key = keys("usage", ident(*group))
    for name, value in zip(_SUMS, _figures(fields), strict=True):
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
        known = merged.setdefault(group[_GROUP[group_by]], [0] * len(_SUMS))
        merged[group[_GROUP[group_by]]] = [a + b for a, b in zip(known, values, strict=True)]

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
        *_SUMS,
    )
    flat = cast(list[str], summed)
    width = len(_SUMS) + 1
    for at in range(0, len(flat), width):
        group = flat[at]
        merged[group] = [float(v) for v in flat[at + 1 : at + width]]
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
    return [_sums(group, values) for group, values in merged.items() if values[0]]


def _sums(group: str, values: list[float]) -> UsageSums:
    runs, used, tokens_in, tokens_out, total, cost, turns, cost_runs, turns_runs = values
    usage = Usage(
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
        total_tokens=int(total),
        cost_usd=cost if cost_runs else None,
        turns=int(turns) if turns_runs else None,
    )
    return UsageSums(group or None, int(runs), int(used), usage)
