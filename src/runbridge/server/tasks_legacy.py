"""The 2025-11-25 experimental tasks: the `tasks` capability, `execution.taskSupport: "optional"` on the run tools,
a task-augmented `tools/call` answered with the task bound to the run, `tasks/get`, `tasks/result` (waits for the
end; asks the person an open gate by elicitation when the client can), `tasks/list` (paged), `tasks/cancel`, and
`notifications/tasks/status` on the session that made the task.

The SDK dispatches none of this at 2025-11-25 (its task types are types only), so it is a middleware around the
wire (the capability, the tool list, the augmented call) and request handlers; the 2026 extension serves the same
methods' 2026 form (`tasks_modern.py`) from the same handlers.
"""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import ElicitResult
from pydantic import BaseModel

from ..bridge.app import App
from ..bridge.gates import elicitation_message, elicitation_schema
from ..bridge.task_start import TaskStart, ttl_of
from ..bridge.tasks import book_of
from ..bridge.tasks_ops import answer_task, cancel_task, gate_key, list_tasks, open_gate, read_task
from ..core.errors import GateError
from ..core.models import Gate
from ..state import TaskRecord
from .tasks import owner_of, protocol_errors, run_as_task, wire_task
from .tasks_notify import tell_session

__all__ = ["LegacyTasks", "cancel", "get", "listed", "result"]

RELATED = "io.modelcontextprotocol/related-task"
MODERN = "2026-07-28"


def legacy_task(task: TaskRecord) -> dict[str, Any]:
    return {**wire_task(task), "ttl": task.ttl_ms, "pollInterval": task.poll_ms}


def _dumped(result: Any) -> Any:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True) if isinstance(result, BaseModel) else result


class LegacyTasks:
    """Server middleware serving task-augmented calls to 2025 clients (`task_tools`: the run tools' names)."""

    def __init__(self, task_tools: frozenset[str]) -> None:
        self._tools = task_tools

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.protocol_version >= MODERN and ctx.method != "initialize":
            return await call_next(ctx)
        if ctx.method == "initialize":
            doc = _dumped(await call_next(ctx))
            if isinstance(doc, dict) and isinstance(doc.get("capabilities"), dict):
                doc["capabilities"]["tasks"] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
            return doc
        if ctx.method == "tools/list":
            doc = _dumped(await call_next(ctx))
            for tool in doc.get("tools", []) if isinstance(doc, dict) else []:
                if tool.get("name") in self._tools:
                    tool["execution"] = {"taskSupport": "optional"}
            return doc
        params = ctx.params or {}
        asked = params.get("task") if ctx.method == "tools/call" else None
        if not isinstance(asked, dict) or params.get("name") not in self._tools:
            return await call_next(ctx)
        app: App = ctx.lifespan_context
        ttl = asked.get("ttl")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        start = TaskStart(
            tool=str(params["name"]), owner=owner_of(), ttl_ms=ttl_of(ttl if isinstance(ttl, int) else None)
        )
        meta = params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        session = ctx.session
        if isinstance(token, str | int):

            async def progress(value: float, total: float | None, message: str) -> None:
                await session.send_progress_notification(token, value, total, message)

            start.progress = progress
        outcome = await run_as_task(app, start, lambda: call_next(ctx))
        if not isinstance(outcome, TaskRecord):
            return outcome
        tell_session(app, outcome, session)
        return {"task": legacy_task(outcome)}


async def get(app: App, task: TaskRecord) -> dict[str, Any]:
    return legacy_task(task)


async def cancel(app: App, task: TaskRecord) -> dict[str, Any]:
    return legacy_task(await cancel_task(app, task))


async def listed(app: App, cursor: str | None) -> dict[str, Any]:
    page = await list_tasks(app, owner_of(), cursor)
    doc: dict[str, Any] = {"tasks": [legacy_task(t) for t in page.items]}
    if page.next_cursor:
        doc["nextCursor"] = page.next_cursor
    return doc


async def result(app: App, ctx: ServerRequestContext[Any, Any], task: TaskRecord) -> dict[str, Any]:
    """`tasks/result`: wait for the task's end and return the tool's result. While it waits on a gate, a client
    that declared elicitation is asked it (as the hybrid wait would); otherwise it waits for the answer from
    `gates_respond` or the host's own interface."""
    book = book_of(app)
    asked: set[str] = set()
    while not task.ended:
        gate = await open_gate(app, task)
        if gate is not None and gate.gate_id not in asked and _can_elicit(ctx):
            asked.add(gate.gate_id)  # asked once per call: a dismissed question is not put again and again
            await _apply(app, task, gate.gate_id, await _ask(ctx, gate))
        live = book.live.get(task.task_id)
        with anyio.move_on_after(task.poll_ms / 1000):
            if live is not None:
                await live.wake.wait()
            else:
                await anyio.sleep(task.poll_ms / 1000)
        task = await read_task(app, task.task_id, task.owner)
    doc: dict[str, Any] = dict(task.result or {"content": [], "isError": task.status != "completed"})
    if task.status != "completed" and task.result is None:
        doc["content"] = [{"type": "text", "text": task.status_message or f"The task {task.status}."}]
        doc["isError"] = True
    doc.setdefault("_meta", {})[RELATED] = {"taskId": task.task_id}
    return doc


async def _ask(ctx: ServerRequestContext[Any, Any], gate: Gate) -> ElicitResult:
    """The gate as the hybrid wait asks it: a sign-in as a link where the client takes links, else as a form."""
    caps = ctx.session.client_capabilities
    takes_links = caps is not None and caps.elicitation is not None and caps.elicitation.url is not None
    if gate.redirect_url is not None and takes_links:
        return await ctx.session.elicit_url(
            elicitation_message(gate), gate.redirect_url, f"runbridge:{gate.profile}:{gate.gate_id}", ctx.request_id
        )
    schema = elicitation_schema(gate, titled_enums=True)
    return await ctx.session.elicit_form(elicitation_message(gate), schema, related_request_id=ctx.request_id)


def _can_elicit(ctx: ServerRequestContext[Any, Any]) -> bool:
    caps = ctx.session.client_capabilities
    return caps is not None and caps.elicitation is not None and ctx.session.can_send_request


async def _apply(app: App, task: TaskRecord, gate_id: str, answer: ElicitResult) -> None:
    with protocol_errors():
        try:
            await answer_task(app, task, {gate_key(gate_id): answer.model_dump(mode="json", exclude_none=True)})
        except GateError:
            return  # answered meanwhile (gates_respond, another process): the task goes on either way
