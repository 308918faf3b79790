"""Running a tool call as an MCP task, for either protocol era (`tasks_modern.py`: the 2026 tasks extension;
`tasks_legacy.py`: the 2025-11-25 experimental tasks).

The tool runs in the server's task group, not in the request: the request waits only until the tool has a run to
follow and the task is stored with it (`bridge.task_start.TaskStart.bind`), then answers with the task. A call that
ends before that (a refused argument, an unknown profile) answers as it would without a task.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from typing import Any

import anyio
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import principal_components
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from ..bridge.app import App
from ..bridge.task_start import TaskStart, as_task
from ..bridge.tasks import book_of
from ..core.errors import InputError, NotFoundError, RunbridgeError, bounded
from .auth import principal_of

__all__ = ["as_protocol_error", "owner_of", "protocol_errors", "run_as_task", "wire_task"]

log = logging.getLogger("runbridge.tasks")


def owner_of() -> str | None:
    """The identity a task belongs to: the authenticated principal where the transport has one, else None (a
    local stdio client, or HTTP behind one shared token: whoever reaches runbridge is the same user)."""
    token = get_access_token()
    if token is None:
        return None
    if token.subject:  # a user: the same one through whichever client (`server.auth.principal_of`)
        return principal_of(token)
    client, issuer, subject = principal_components(token)
    return "|".join(part or "" for part in (issuer, client, subject))


def as_protocol_error(exc: RunbridgeError) -> MCPError:
    """A runbridge error about a task request, as the JSON-RPC error the client gets."""
    code = INVALID_PARAMS if isinstance(exc, InputError | NotFoundError) else INTERNAL_ERROR
    return MCPError(code=code, message=bounded(str(exc), 2000))


@contextmanager
def protocol_errors() -> Generator[None]:
    """Around a task method's work: a runbridge error raised inside is the JSON-RPC error the client gets."""
    try:
        yield
    except RunbridgeError as exc:
        raise as_protocol_error(exc) from None


async def run_as_task(app: App, start: TaskStart, call: Callable[[], Awaitable[Any]]) -> Any:
    """Run the tool (`call`) in the background as `start`'s task: the stored task once it is bound to a run, or
    the tool's own result when it ended first."""
    assert app.tasks is not None, "the server lifespan provides a task group"
    outcome: dict[str, Any] = {}

    async def body() -> None:
        try:
            with as_task(start):
                outcome["result"] = await call()
        except Exception as exc:  # told to the client, or recorded as the task's failure (a bug is logged)
            outcome["error"] = exc
        finally:
            start.bound.set()
        if start.task is not None and not start.interrupted:  # stopped: the next runbridge takes the task up
            await _ended(app, start, outcome)

    app.tasks.start_soon(body)
    await start.bound.wait()
    if start.task is not None:
        return start.task
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


async def _ended(app: App, start: TaskStart, outcome: dict[str, Any]) -> None:
    assert start.task is not None
    book = book_of(app)
    result, error = outcome.get("result"), outcome.get("error")
    try:
        if error is not None:
            if not isinstance(error, RunbridgeError):  # a bug: logged with its traceback
                log.error("task %s failed", start.task.task_id, exc_info=error)
            await book.ended(start.task, start.report, None, "runbridge failed while following the run")
        else:  # the tool's result, a tool error included (it says why the call could not go on)
            await book.ended(start.task, start.report, result)
    except RunbridgeError as exc:  # the store cannot be written now: the next read follows the run on
        log.warning("task %s: its end could not be recorded: %s", start.task.task_id, exc)
    with anyio.CancelScope(shield=True):
        await app.registry.claim_task(start.task.task_id, lease_seconds=0)


def wire_task(task: Any) -> dict[str, Any]:
    """The task fields both eras share, camelCase (timestamps ISO 8601)."""
    doc: dict[str, Any] = {
        "taskId": task.task_id,
        "status": task.status,
        "createdAt": task.created_at.isoformat(),
        "lastUpdatedAt": task.updated_at.isoformat(),
    }
    if task.status_message:
        doc["statusMessage"] = bounded(task.status_message, 1000)
    return doc
