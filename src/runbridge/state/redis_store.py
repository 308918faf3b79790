"""`RedisStore`: the run store in a Redis server, shared by every runbridge replica that points at it
(`state_url = "redis://…"`).

Redis is the shared state of a team's runbridge: a gate opened through one replica is answered through another, and
a replica that stops loses nothing. Records are hashes, lists are sorted sets, a run's events a capped stream
(`redis_keys` explains the layout); every change that depends on what is stored (a claim, a status that only moves
forward) is a WATCH/MULTI transaction, so two replicas never both win. One Redis server (or a primary with its
replicas), not a Redis Cluster: a transaction reads and writes keys that a cluster would spread over its nodes.

The `redis` package's asyncio client keeps a pool of connections: calls from many sessions go out at once and none
holds up the event loop. A Redis that cannot be reached is a clear tool error naming where runbridge looked (never
the password a URL may hold).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from redis import Redis as SyncRedis
from redis import exceptions as redis_errors
from redis.asyncio import BlockingConnectionPool, Redis

from ..core.errors import RunbridgeError
from ..core.logs import register_secret
from ..core.models import Gate, Page, Run, RunEvent, RunStatus, Usage
from . import redis_events, redis_follows, redis_gates, redis_runs, redis_tasks, redis_usage
from .records import run_record, seen_of, unchanged
from .redis_keys import Keys
from .store import (
    FollowLease,
    GateRecord,
    GateState,
    RunRecord,
    StoredEvents,
    TaskRecord,
    TaskStatus,
    UsageKey,
    UsageSums,
    claim_owner,
)

__all__ = ["RedisStore", "open_redis", "open_redis_sync", "redis_location"]

DEFAULT_PREFIX = "runbridge"
POOL_SIZE = 64  # connections to Redis per runbridge process
POOL_WAIT_SECONDS = 10.0


def redis_location(url: str) -> str:
    """Where a Redis URL points (host:port/db), for messages: never its user or password."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{port or 6379}{parts.path or ''}"


def open_redis(url: str, password: str | None = None) -> Redis:
    """A Redis client for `url`, with `password` if given (never logged). Its pool holds at most `POOL_SIZE`
    connections; a call that finds them all busy waits for one (up to `POOL_WAIT_SECONDS`) instead of failing, so a
    burst of sessions queues rather than erring."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=POOL_SIZE, timeout=POOL_WAIT_SECONDS, **_options(url, password)
    )
    return Redis(connection_pool=pool)


def open_redis_sync(url: str, password: str | None = None) -> SyncRedis:
    """A blocking client, for a check before serving starts."""
    return SyncRedis.from_url(url, **_options(url, password))


def _options(url: str, password: str | None) -> dict[str, Any]:
    for secret in (password, urlsplit(url).password):
        if secret:
            register_secret(secret)
    options: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": 5, "socket_timeout": 10}
    if password:
        options["password"] = password
    return options


class RedisStore:
    """The `RunStore` in Redis at `url` (`redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS).

    `password`: Redis's (from the environment, never the configuration file); `prefix` starts every key (several
    runbridge deployments can share one Redis under prefixes of their own);
    `owner` is who this store's claims belong to (default: this process, `claim_owner()`)."""

    def __init__(
        self, url: str, *, password: str | None = None, owner: str | None = None, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self._url = url
        self._redis = open_redis(url, password)
        self._keys = Keys(prefix)
        self._owner = owner or claim_owner()

    @property
    def owner(self) -> str:
        return self._owner

    @asynccontextmanager
    async def _using(self) -> AsyncGenerator[None]:
        try:
            yield
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError) as exc:
            raise RunbridgeError(
                f"runbridge's run store at {redis_location(self._url)} could not be used ({exc.__class__.__name__}): "
                "Redis may be down, restarting or unreachable from here. Try again in a moment"
            ) from None
        except redis_errors.RedisError as exc:  # refused by Redis itself: out of memory, a command disabled...
            raise RunbridgeError(
                f"runbridge's run store at {redis_location(self._url)} refused the change ({exc.__class__.__name__}: "
                f"{str(exc)[:200]}). Ask whoever runs that Redis to check its memory and configuration"
            ) from None

    async def aclose(self) -> None:
        await self._redis.aclose(close_connection_pool=True)  # the pool is its own (`open_redis`)

    # -- runs ---------------------------------------------------------------------------------------------------

    async def record_run(
        self, profile: str, run: Run, *, locator: dict[str, str] | None = None, user: str | None = None
    ) -> None:
        async with self._using():
            await redis_runs.record_run(self._redis, self._keys, profile, run, locator, user)

    async def update_run(
        self,
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
        async with self._using():
            await redis_runs.update_run(
                self._redis,
                self._keys,
                profile,
                run_id,
                status=status,
                cursor=cursor,
                error=error,
                usage=usage,
                target_id=target_id,
                outputs=outputs,
            )

    async def observe_run(
        self,
        profile: str,
        run_id: str,
        *,
        status: RunStatus,
        error: str | None = None,
        usage: Usage | None = None,
        target_id: str | None = None,
        outputs: Any = None,
    ) -> RunRecord:
        """Record a run's status as just read from its backend; nothing is written when the record already says
        so. A run first seen ended has its open gates closed."""
        seen: dict[str, Any] = {"error": error, "usage": usage, "target_id": target_id, "outputs": outputs}
        async with self._using():
            fields = await redis_runs.get_fields(self._redis, self._keys, profile, run_id)
            if fields is not None and unchanged(fields, status, **seen):
                return run_record(fields)
            await redis_runs.update_run(self._redis, self._keys, profile, run_id, status=status, **seen)
            if status.terminal:
                await redis_gates.close_gates(self._redis, self._keys, profile, run_id, None)
            record = await redis_runs.get_run(self._redis, self._keys, profile, run_id)
        assert record is not None, "the run was just recorded"
        return record

    async def observe(self, profile: str, run: Run) -> tuple[RunRecord, list[GateRecord]]:
        record = await self.observe_run(profile, run.run_id, status=run.status, **seen_of(run))
        if run.status.terminal:
            return record, []
        if run.open_gate is not None:
            await self.record_gate(profile, run.open_gate)
        return record, await self.gates(profile, run_id=run.run_id)

    async def get_run(self, profile: str, run_id: str) -> RunRecord | None:
        async with self._using():
            return await redis_runs.get_run(self._redis, self._keys, profile, run_id)

    async def list_runs(
        self,
        profile: str | None,
        *,
        cursor: str | None = None,
        limit: int = 20,
        status: RunStatus | None = None,
        user: str | None = None,
    ) -> Page[RunRecord]:
        async with self._using():
            return await redis_runs.list_runs(self._redis, self._keys, profile, cursor, limit, status, user)

    async def runs_since(self, profile: str | None, since: datetime) -> list[RunRecord]:
        async with self._using():
            return await redis_runs.runs_since(self._redis, self._keys, profile, since)

    async def usage_sums(self, profile: str | None, since: datetime, group_by: UsageKey) -> list[UsageSums]:
        async with self._using():
            return await redis_usage.usage_sums(self._redis, self._keys, profile, since, group_by)

    async def set_locator(self, profile: str, run_id: str, locator: dict[str, str]) -> bool:
        async with self._using():
            return await redis_runs.set_locator(self._redis, self._keys, profile, run_id, locator)

    # -- gates --------------------------------------------------------------------------------------------------

    async def record_gate(self, profile: str, gate: Gate) -> bool:
        async with self._using():
            return await redis_gates.record_gate(self._redis, self._keys, profile, gate)

    async def update_gate(self, profile: str, gate: Gate) -> None:
        async with self._using():
            await redis_gates.update_gate(self._redis, self._keys, profile, gate)

    async def get_gate(self, profile: str, gate_id: str) -> GateRecord | None:
        async with self._using():
            return await redis_gates.get_gate(self._redis, self._keys, profile, gate_id)

    async def gates(
        self, profile: str | None = None, *, run_id: str | None = None, states: tuple[GateState, ...] = ("open",)
    ) -> list[GateRecord]:
        async with self._using():
            page = await redis_gates.gates(self._redis, self._keys, profile, run_id, states, None, None)
        return page.items

    async def gates_page(
        self,
        profile: str | None = None,
        *,
        run_id: str | None = None,
        states: tuple[GateState, ...] = ("open",),
        cursor: str | None = None,
        limit: int = 20,
        user: str | None = None,
    ) -> Page[GateRecord]:
        async with self._using():
            if user is None:
                return await redis_gates.gates(self._redis, self._keys, profile, run_id, states, cursor, limit)
            return await redis_gates.gates_of_user(
                self._redis, self._keys, profile, run_id, states, cursor, limit, user
            )

    async def claim_gate(self, profile: str, gate_id: str, *, lease_seconds: float = 120.0) -> Gate:
        async with self._using():
            return await redis_gates.claim_gate(self._redis, self._keys, profile, gate_id, self._owner, lease_seconds)

    async def finish_gate(self, profile: str, gate_id: str, state: GateState, decision: str | None = None) -> None:
        async with self._using():
            await redis_gates.finish_gate(self._redis, self._keys, profile, gate_id, self._owner, state, decision)

    async def close_gates(self, profile: str, run_id: str, *, keep: str | None = None) -> None:
        async with self._using():
            await redis_gates.close_gates(self._redis, self._keys, profile, run_id, keep)

    async def stale_claims(self, profile: str | None = None) -> list[GateRecord]:
        async with self._using():
            return await redis_gates.stale_claims(self._redis, self._keys, profile, self._owner)

    async def take_over(self, profile: str, gate_id: str, *, lease_seconds: float = 120.0) -> GateRecord | None:
        async with self._using():
            return await redis_gates.take_over(self._redis, self._keys, profile, gate_id, self._owner, lease_seconds)

    # -- events -------------------------------------------------------------------------------------------------

    async def append_events(self, profile: str, run_id: str, events: Sequence[RunEvent]) -> None:
        async with self._using():
            await redis_events.append_events(self._redis, self._keys, profile, run_id, list(events))

    async def events(self, profile: str, run_id: str, *, after: str | None = None, limit: int = 100) -> StoredEvents:
        async with self._using():
            return await redis_events.events(self._redis, self._keys, profile, run_id, after, limit)

    # -- tasks --------------------------------------------------------------------------------------------------

    async def record_task(self, task: TaskRecord) -> None:
        async with self._using():
            await redis_tasks.record_task(self._redis, self._keys, task)

    async def get_task(self, task_id: str) -> TaskRecord | None:
        async with self._using():
            return await redis_tasks.get_task(self._redis, self._keys, task_id)

    async def update_task(
        self,
        task_id: str,
        *,
        status: TaskStatus | None = None,
        status_message: str | None = None,
        gate_id: str | None = None,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> TaskRecord | None:
        async with self._using():
            return await redis_tasks.update_task(
                self._redis,
                self._keys,
                task_id,
                status=status,
                status_message=status_message,
                gate_id=gate_id,
                result=result,
                error=error,
            )

    async def list_tasks(self, owner: str | None, *, cursor: str | None = None, limit: int = 20) -> Page[TaskRecord]:
        async with self._using():
            return await redis_tasks.list_tasks(self._redis, self._keys, owner, cursor=cursor, limit=limit)

    async def tasks_of_run(self, profile: str, run_id: str) -> list[TaskRecord]:
        async with self._using():
            return await redis_tasks.tasks_of_run(self._redis, self._keys, profile, run_id)

    async def claim_task(self, task_id: str, *, lease_seconds: float) -> bool:
        async with self._using():
            return await redis_tasks.claim_task(self._redis, self._keys, task_id, self._owner, lease_seconds)

    # -- follow leases ------------------------------------------------------------------------------------------

    async def claim_follow(self, profile: str, run_id: str, *, lease_seconds: float) -> FollowLease | None:
        async with self._using():
            return await redis_follows.claim_follow(
                self._redis, self._keys, profile, run_id, self._owner, lease_seconds
            )

    async def release_follow(self, profile: str, run_id: str) -> None:
        async with self._using():
            await redis_follows.release_follow(self._redis, self._keys, profile, run_id, self._owner)
