"""Task status notifications: in the 2026 extension, `notifications/tasks` on a `subscriptions/listen` stream that
named the task (`notifications.taskIds`); in 2025, `notifications/tasks/status` on the session that made the task.

Either is sent when the task's status changes while this process follows it; with the run store in Redis, both
also hear of changes made by the replica that follows the task (`redis_bus.py`). A client that
misses one loses nothing, since `tasks/get` always tells where the task stands.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY
from mcp_types import Notification, SubscriptionsListenRequestParams
from pydantic import ConfigDict

from ..bridge.app import App
from ..bridge.tasks import Listener, book_of
from ..state import TaskRecord
from .tasks import owner_of

__all__ = ["listen_to_tasks", "tell_session"]

_MOST_TASKS = 100  # task ids one listen stream may name


class _TaskNotification(Notification[dict[str, Any], Any]):
    model_config = ConfigDict(extra="allow")
    method: Literal["notifications/tasks", "notifications/tasks/status"]
    params: dict[str, Any]


async def _send(session: ServerSession, method: str, params: dict[str, Any], related: Any = None) -> None:
    notification = _TaskNotification(method=method, params=params)  # pyright: ignore[reportArgumentType]
    await session.send_notification(cast(Any, notification), related_request_id=related)


def tell_session(app: App, task: TaskRecord, session: ServerSession) -> None:
    """Send the 2025 session that made `task` its status changes: those this process makes while it follows the
    task, and, with the run store in Redis, those another replica makes (it follows the task once this one's lease
    lapsed). The session hears each status once, and is forgotten once the task ended or the session is gone."""
    from .tasks_legacy import legacy_task  # the 2025 form of a task

    book, task_id = book_of(app), task.task_id
    said: list[tuple[str, str | None]] = []

    async def tell(now: TaskRecord) -> None:
        if not said or said[-1] != (now.status, now.status_message):  # heard both here and over the bus
            said[:] = [(now.status, now.status_message)]
            try:
                await _send(session, "notifications/tasks/status", legacy_task(now))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                book.unlisten(task_id, tell)  # the session is gone
                return
        if now.ended:
            book.unlisten(task_id, tell)

    book.listen(task_id, tell, remote=book.publish is not None)  # a shared store: other replicas may change it


def _stream_teller(app: App, session: ServerSession, stream: Any, links: bool) -> Listener:
    from .tasks_modern import detailed  # the 2026 form of a task

    async def tell(now: TaskRecord) -> None:
        doc = await detailed(app, now, links=links)
        doc.pop("resultType", None)
        doc["_meta"] = {SUBSCRIPTION_ID_META_KEY: stream}
        await _send(session, "notifications/tasks", doc, related=stream)

    return tell


@asynccontextmanager
async def listen_to_tasks(
    ctx: ServerRequestContext[App, Any], params: SubscriptionsListenRequestParams
) -> AsyncGenerator[None]:
    """While a 2026 listen stream lasts, tell it the status changes of the tasks it named (its client's own)."""
    extra = params.notifications.model_extra or {}
    named = extra.get("taskIds")
    app = ctx.lifespan_context
    added: list[tuple[str, Listener]] = []
    if isinstance(named, list) and ctx.protocol_version >= "2026-07-28":
        from .tasks_modern import takes_links

        owner, book = owner_of(), book_of(app)
        session, stream = ctx.session, ctx.request_id
        for task_id in [t for t in cast(list[Any], named) if isinstance(t, str)][:_MOST_TASKS]:
            task = await app.registry.get_task(task_id)
            if task is None or task.owner != owner:
                continue  # honoured and never told, like a resource nothing publishes

            tell = _stream_teller(app, session, stream, takes_links(ctx))
            book.ensure_followed(task)
            book.listen(task_id, tell, remote=True)  # and when another replica follows it
            added.append((task_id, tell))
    try:
        yield
    finally:
        book = book_of(app)
        for task_id, tell in added:
            book.unlisten(task_id, tell)
