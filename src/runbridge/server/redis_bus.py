"""The subscription bus across replicas: Redis pub/sub, when the run store is Redis.

Every replica's bus publishes its events (a run resource changed, a list changed) on one Redis channel and hands
each event it reads from that channel to its own listen streams, its own events included: so a 2026 client
listening on one replica hears about a run that another replica follows. Delivery is what the MCP listen contract
promises, fire-and-forget with no replay: an event published while a replica is not reading the channel (Redis
away, the replica restarting) is not delivered there, and a client loses nothing it cannot read again (a run
resource's notification only says "read it again").

When Redis cannot be reached to publish, the event still reaches this replica's own streams, and a line is logged.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)

from ..bridge.tasks import TaskBook

__all__ = ["CHANNEL", "RedisSubscriptionBus"]

log = logging.getLogger("runbridge.bus")

CHANNEL = "runbridge:bus:events"
_RECONNECT_SECONDS = 1.0  # between attempts to read the channel again after Redis went away
_LISTS: dict[str, ServerEvent] = {
    "tools": ToolsListChanged(),
    "prompts": PromptsListChanged(),
    "resources": ResourcesListChanged(),
}


def encode(event: ServerEvent) -> str:
    if isinstance(event, ResourceUpdated):
        return json.dumps({"updated": event.uri})
    for name, kind in _LISTS.items():
        if isinstance(event, type(kind)):
            return json.dumps({"list_changed": name})
    raise TypeError(f"not a server event: {event!r}")


def decode(data: bytes | str) -> ServerEvent | None:
    """The event in a message on the channel; None for anything else (never raises)."""
    try:
        message: Any = json.loads(data)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    uri = message.get("updated")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if isinstance(uri, str):
        return ResourceUpdated(uri=uri)
    return _LISTS.get(message.get("list_changed"))  # type: ignore[arg-type]  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]


class RedisSubscriptionBus:
    """A `SubscriptionBus` whose events travel over the Redis at `url`; `relay()` (run in the server's task group
    while it serves) reads the channel and hands each event to this replica's listeners."""

    def __init__(self, url: str, password: str | None = None, *, channel: str = CHANNEL) -> None:
        self._url, self._password, self._channel = url, password, channel
        self._local = InMemorySubscriptionBus()
        self._redis: Any = None  # a client of the relay's own, made on the event loop that serves
        self._relaying = False
        self._publish_failed = False
        self._origin = secrets.token_hex(8)  # this replica's own task messages are not read back
        self._on_task: Callable[[str], Awaitable[None]] | None = None

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        return self._local.subscribe(listener)

    def follow_tasks(self, book: TaskBook) -> None:
        """Carry `book`'s task status changes to the other replicas, and theirs to `book`."""
        book.publish = self.publish_task
        self._on_task = book.heard

    async def publish_task(self, task_id: str) -> None:
        """Tell the other replicas that the task changed (they read it from the store)."""
        if not self._relaying or self._redis is None:
            return
        try:
            await self._redis.publish(self._channel, json.dumps({"task": task_id, "from": self._origin}))
        except Exception as exc:  # Redis away: the other replicas' clients learn it with tasks/get
            log.info("could not publish a task change on Redis (%s)", type(exc).__name__)

    async def publish(self, event: ServerEvent) -> None:
        if not self._relaying or self._redis is None:  # nothing reads the channel here (not serving, Redis away)
            await self._local.publish(event)
            return
        try:
            await self._redis.publish(self._channel, encode(event))  # pyright: ignore[reportUnknownMemberType]
            self._publish_failed = False
        except Exception as exc:  # Redis away: this replica's own streams are still told
            if not self._publish_failed:
                log.warning(
                    "could not publish on Redis (%s): telling this replica's listeners only", type(exc).__name__
                )
            self._publish_failed = True
            await self._local.publish(event)

    async def _task_message(self, data: bytes | str) -> None:
        try:
            message: Any = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict) or self._on_task is None:
            return
        task_id, origin = message.get("task"), message.get("from")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if isinstance(task_id, str) and origin != self._origin:
            try:
                await self._on_task(task_id)
            except Exception:  # a bug, or the store away: this message is lost, tasks/get still tells
                log.exception("telling this replica's listeners of task %s failed", task_id)

    async def relay(self) -> None:
        """Read the channel until cancelled, reconnecting when Redis goes away. One relay at a time: a second
        (another in-memory connection to the same server) waits, and this replica's events still reach it."""
        if self._redis is not None:
            await anyio.sleep_forever()
        from ..state.redis_store import open_redis  # the `redis` package: there when the store is Redis

        self._redis = open_redis(self._url, self._password)
        try:
            await self._relay()
        finally:
            redis, self._redis, self._relaying = self._redis, None, False
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await redis.aclose()

    async def _relay(self) -> None:
        warned = False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # pyright: ignore[reportUnknownMemberType]
            try:
                await pubsub.subscribe(self._channel)  # pyright: ignore[reportUnknownMemberType]
                self._relaying, warned = True, False
                async for message in pubsub.listen():  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
                    if message.get("type") != "message":  # pyright: ignore[reportUnknownMemberType]
                        continue
                    await self._task_message(message["data"])  # pyright: ignore[reportUnknownArgumentType]
                    event = decode(message["data"])  # pyright: ignore[reportUnknownArgumentType]
                    if event is not None:
                        await self._local.publish(event)
            except Exception as exc:  # Redis away: tried again (a cancellation is not an Exception)
                self._relaying = False
                if not warned:
                    log.warning("lost the Redis event channel (%s); trying again", type(exc).__name__)
                    warned = True
            finally:
                self._relaying = False
                with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                    await pubsub.aclose()  # pyright: ignore[reportUnknownMemberType]
            await anyio.sleep(_RECONNECT_SECONDS)
