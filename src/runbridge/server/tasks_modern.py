"""The 2026-07-28 tasks extension (`io.modelcontextprotocol/tasks`): for a client that declares it, a run tool
answers `tools/call` with a task bound to the run (`resultType: "task"`), and `tasks/get`, `tasks/update` and
`tasks/cancel` read it, answer its gate and cancel it. A client that did not declare it gets the tool as before.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import require_client_extension
from mcp_types import CallToolRequestParams, RequestParams
from pydantic import ConfigDict, Field

from ..bridge.app import App
from ..bridge.task_start import TaskStart, ttl_of
from ..bridge.tasks_ops import answer_task, cancel_task, input_requests, read_task
from ..state import TaskRecord
from . import tasks_legacy
from .tasks import owner_of, protocol_errors, run_as_task, wire_task

__all__ = ["EXTENSION_ID", "RunTasks"]

EXTENSION_ID = "io.modelcontextprotocol/tasks"


class TaskIdParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    task_id: str = Field(alias="taskId", min_length=1, max_length=2048)


class UpdateParams(TaskIdParams):
    input_responses: dict[str, Any] = Field(alias="inputResponses")


class ListParams(RequestParams):
    model_config = ConfigDict(extra="allow")
    cursor: str | None = Field(default=None, max_length=4096)


def _modern(ctx: ServerRequestContext[Any, Any]) -> bool:
    """A 2026 request (the extension's form), from a client that declared the extension (else -32021)."""
    if ctx.protocol_version < "2026-07-28":
        return False
    require_client_extension(ctx, EXTENSION_ID)
    return True


def declared(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether the client of this request declared the tasks extension."""
    caps = ctx.session.client_capabilities
    return caps is not None and EXTENSION_ID in (caps.extensions or {})


def _asked_ttl(params: CallToolRequestParams) -> int | None:
    """The ttl the client asked for, in the call's `task` (`{"ttl": ms}`): the extension lets the server decide how
    long a task is kept, so a client that says nothing gets runbridge's default, and one that asks gets what it asked
    within runbridge's bound."""
    asked = params.task
    ttl = asked.ttl if asked is not None else None
    return ttl if isinstance(ttl, int) else None


def _created(task: TaskRecord) -> dict[str, Any]:
    return {"resultType": "task", **wire_task(task), "ttlMs": task.ttl_ms, "pollIntervalMs": task.poll_ms}


def takes_links(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether a sign-in may be asked as a link: unless the client declared elicitation without URL mode."""
    caps = ctx.session.client_capabilities
    return caps is None or caps.elicitation is None or caps.elicitation.url is not None


async def detailed(app: App, task: TaskRecord, *, links: bool = True) -> dict[str, Any]:
    """`tasks/get`'s answer: the task, with its result, error or the input it needs."""
    doc: dict[str, Any] = {"resultType": "complete", **wire_task(task), "ttlMs": task.ttl_ms}
    doc["pollIntervalMs"] = task.poll_ms
    if task.status == "completed":
        doc["result"] = {"resultType": "complete", **(task.result or {"content": []})}  # as tools/call would answer
    elif task.status == "failed":
        doc["error"] = task.error or {"code": -32603, "message": task.status_message or "The task failed."}
    elif task.status == "input_required":
        requests = await input_requests(app, task, links=links)
        if requests is None:  # answered meanwhile: the task is about to say it works on
            doc["status"] = "working"
        else:
            doc["inputRequests"] = requests
    return doc


class RunTasks(Extension):
    """The tasks extension over runbridge's run tools (`task_tools`: the names of the tools that follow a run)."""

    identifier = EXTENSION_ID

    def __init__(self, task_tools: frozenset[str]) -> None:
        self._tools = task_tools

    def methods(self) -> list[MethodBinding]:
        """The task methods of both eras: one handler per method (the SDK keys them by name), in each era's form."""
        legacy = frozenset({"2025-11-25"})
        return [
            MethodBinding("tasks/get", TaskIdParams, self._get),
            MethodBinding("tasks/update", UpdateParams, self._update, protocol_versions=frozenset({"2026-07-28"})),
            MethodBinding("tasks/cancel", TaskIdParams, self._cancel),
            MethodBinding("tasks/result", TaskIdParams, self._result, protocol_versions=legacy),
            MethodBinding("tasks/list", ListParams, self._list, protocol_versions=legacy),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if params.name not in self._tools or not declared(ctx):
            return await call_next(ctx)
        app: App = ctx.lifespan_context
        start = TaskStart(tool=params.name, owner=owner_of(), ttl_ms=ttl_of(_asked_ttl(params)))
        outcome = await run_as_task(app, start, lambda: call_next(ctx))
        return _created(outcome) if isinstance(outcome, TaskRecord) else outcome

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> HandlerResult:
        app: App = ctx.lifespan_context
        with protocol_errors():
            modern = _modern(ctx)
            task = await read_task(app, params.task_id, owner_of())
            return await detailed(app, task, links=takes_links(ctx)) if modern else await tasks_legacy.get(app, task)

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> HandlerResult:
        app: App = ctx.lifespan_context
        _modern(ctx)
        with protocol_errors():
            await answer_task(app, await read_task(app, params.task_id, owner_of()), params.input_responses)
        return {"resultType": "complete"}

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> HandlerResult:
        app: App = ctx.lifespan_context
        with protocol_errors():
            modern = _modern(ctx)
            task = await read_task(app, params.task_id, owner_of())
            if not modern:
                return await tasks_legacy.cancel(app, task)
            if not task.ended:  # cancelling an ended task is acknowledged, and changes nothing
                await cancel_task(app, task)
        return {"resultType": "complete"}

    async def _result(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> HandlerResult:
        app: App = ctx.lifespan_context
        with protocol_errors():
            return await tasks_legacy.result(app, ctx, await read_task(app, params.task_id, owner_of()))

    async def _list(self, ctx: ServerRequestContext[Any, Any], params: ListParams) -> HandlerResult:
        app: App = ctx.lifespan_context
        with protocol_errors():
            return await tasks_legacy.listed(app, params.cursor)
