"""Subscribing to run resources, in both protocol eras (the following itself is `bridge/subscriptions.py`).

* 2025 sessions send `resources/subscribe` / `resources/unsubscribe`. `MCPServer` serves neither, so the handlers
  go on its low-level server (which then advertises `resources.subscribe`), and each session is told with
  `notifications/resources/updated` on its own channel.
* 2026 clients open a `subscriptions/listen` stream, served by the SDK's `ListenHandler` on the server's
  subscription bus, wrapped: the run resources a stream asks for are followed while it lasts, and a change is
  published once on the bus, which hands it to every stream that asked for that resource. With the run store in
  Redis the bus is Redis pub/sub (`redis_bus.py`): a stream on one replica hears of a run another replica follows.
"""

from __future__ import annotations

import os
from typing import Any

from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

from ..bridge.app import App
from ..bridge.locating import no_such_run
from ..bridge.subscriptions import run_of
from ..bridge.users import current_user, visible_to
from ..core.config import Settings
from ..core.errors import RunbridgeError
from ..core.secret_policy import REDIS_PASSWORD_ENV
from .redis_bus import RedisSubscriptionBus
from .sdk_private import connection_of, lowlevel_server
from .tasks_notify import listen_to_tasks

__all__ = ["register_subscriptions", "subscription_bus"]

_FORGOTTEN_ON_CLOSE = "runbridge.subscriptions.forgotten_on_close"  # in the connection's scratch state


def subscription_bus(settings: Settings) -> SubscriptionBus:
    """The server's subscription bus: over Redis pub/sub when the run store is Redis (shared by replicas), else in
    this process."""
    if settings.state_url is not None:
        return RedisSubscriptionBus(settings.state_url, os.environ.get(REDIS_PASSWORD_ENV))
    return InMemorySubscriptionBus()


def register_subscriptions(mcp: MCPServer[App], bus: SubscriptionBus) -> None:
    """Serve run-resource subscriptions on `mcp`, whose subscription bus is `bus`."""

    async def subscribe(ctx: ServerRequestContext[App, Any], params: SubscribeRequestParams) -> EmptyResult:
        if not await _may_see(ctx.lifespan_context, params.uri):
            profile, run_id = run_of(params.uri) or ("", "")
            raise MCPError(INVALID_PARAMS, str(no_such_run(profile, run_id)))
        follows, connection = ctx.lifespan_context.subscriptions, _connection_of(ctx)
        # Told on the connection's own channel (the request that subscribed is long over by then).
        tell = ctx.session.send_resource_updated
        try:
            follows.subscribe(params.uri, connection, tell)
        except RunbridgeError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from None
        if not connection.state.get(_FORGOTTEN_ON_CLOSE):  # a session that ends, ends its subscriptions
            connection.state[_FORGOTTEN_ON_CLOSE] = True
            connection.exit_stack.callback(follows.forget, connection)
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[App, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        ctx.lifespan_context.subscriptions.unsubscribe(params.uri, _connection_of(ctx))
        return EmptyResult()

    async def publish(uri: str) -> None:
        await bus.publish(ResourceUpdated(uri=uri))

    listen = ListenHandler(bus)  # the SDK's own handler, which `MCPServer` would register, wrapped

    async def listen_following_runs(
        ctx: ServerRequestContext[App, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        follows = ctx.lifespan_context.subscriptions
        followed: list[str] = []
        asked = params.notifications.resource_subscriptions
        if asked:  # another user's runs are left out, as if they did not exist: their changes never reach this stream
            seen = [uri for uri in asked if await _may_see(ctx.lifespan_context, uri)]
            if len(seen) < len(asked):
                notifications = params.notifications.model_copy(update={"resource_subscriptions": seen})
                params = params.model_copy(update={"notifications": notifications})
        try:
            for uri in params.notifications.resource_subscriptions or ():
                if run_of(uri) is None:
                    continue  # honored, never updated (the SDK's listen contract for what nothing publishes)
                try:
                    follows.share(uri, bus, publish)
                except RunbridgeError:
                    continue  # an unknown profile, or too many runs followed: the same
                followed.append(uri)
            async with listen_to_tasks(ctx, params):  # and the tasks it names (`taskIds`)
                return await listen(ctx, params)  # the stream: returns when the client or the server ends it
        finally:
            for uri in followed:
                follows.unshare(uri, bus)

    lowlevel = lowlevel_server(mcp)  # handlers MCPServer does not serve, or serves unwrapped
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, listen_following_runs)


async def _may_see(app: App, uri: str) -> bool:
    """Whether the request's user may hear of changes to `uri`: a run resource only if they may read the run (see
    `bridge/users.py`); anything else, and everything without a user, always."""
    user, run = current_user(), run_of(uri)
    if user is None or run is None:
        return True
    return visible_to(user, await app.registry.get_run(*run))


def _connection_of(ctx: ServerRequestContext[App, Any]) -> Connection:
    """What identifies the subscriber: the client's connection (`ctx.session` is made anew for each request)."""
    return connection_of(ctx.session)
