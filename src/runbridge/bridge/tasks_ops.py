"""What a client can do with a task, in either protocol era: read it (only its owner), see the gate it waits on as
the input it needs, answer that gate, cancel the task (which cancels its run on the backend), list its tasks.

A gate is shown exactly as the hybrid wait puts it to a person (`gates.elicitation_message`/`elicitation_schema`)
and answered through the same path as every gate (`answers.answer_gate`: claimed first, so at most once).
"""

from __future__ import annotations

from typing import Any

from mcp_types import ElicitRequestFormParams, ElicitRequestURLParams

from ..core.errors import GateError, InputError, NotFoundError
from ..core.models import Gate, Page
from ..core.protocols import GatesAPI, RunsAPI
from ..state import TaskRecord
from .answers import answer_gate
from .app import App
from .gates import answer_from_content, elicitation_message, elicitation_schema
from .locating import run_backend
from .tasks import book_of

__all__ = ["answer_task", "cancel_task", "gate_key", "input_requests", "list_tasks", "open_gate", "read_task"]

_GATE_PREFIX = "gate:"


def gate_key(gate_id: str) -> str:
    """The key of a gate's input request: one per gate, so a client never sees one key asking two questions."""
    return f"{_GATE_PREFIX}{gate_id}"


async def read_task(app: App, task_id: str, owner: str | None) -> TaskRecord:
    """The task, if it exists and belongs to `owner`; one nobody follows here is followed on (after a restart)."""
    task = await app.registry.get_task(task_id)
    if task is None or task.owner != owner:  # another owner's task is not told apart from none
        raise NotFoundError(f"No task {task_id!r} here (it may have expired).")
    book_of(app).ensure_followed(task)
    return task


async def open_gate(app: App, task: TaskRecord) -> Gate | None:
    """The gate the task waits on, while it is open."""
    if task.status != "input_required" or task.gate_id is None:
        return None
    record = await app.registry.get_gate(task.profile, task.gate_id)
    return record.gate if record is not None and record.state == "open" else None


def elicitation_params(gate: Gate, *, links: bool = True) -> ElicitRequestFormParams | ElicitRequestURLParams:
    """The gate as an elicitation, as the hybrid wait asks it: a sign-in as a link where the client takes links,
    anything else (and a sign-in otherwise) as a form whose message carries the link."""
    if gate.redirect_url is not None and not gate.fields and links:
        return ElicitRequestURLParams(message=elicitation_message(gate), url=gate.redirect_url)
    return ElicitRequestFormParams(message=elicitation_message(gate), requested_schema=elicitation_schema(gate))


async def input_requests(app: App, task: TaskRecord, *, links: bool = True) -> dict[str, Any] | None:
    """The task's input requests on the wire (`{key: {method, params}}`), while it waits on an open gate."""
    gate = await open_gate(app, task)
    if gate is None:
        return None
    params = elicitation_params(gate, links=links).model_dump(mode="json", by_alias=True, exclude_none=True)
    return {gate_key(gate.gate_id): {"method": "elicitation/create", "params": params}}


async def answer_task(app: App, task: TaskRecord, responses: dict[str, Any]) -> str | None:
    """Apply the person's answer to the gate the task waits on; the decision (None when they dismissed it)."""
    gate = await open_gate(app, task)
    if gate is None:
        raise GateError("This task is not waiting for an answer now; tasks/get shows where it stands.")
    key = gate_key(gate.gate_id)
    response = responses.get(key)
    if not isinstance(response, dict):
        raise InputError(f"No answer for {key!r}: answer the input request the task shows (tasks/get).")
    action = str(response.get("action") or "")  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    content = response.get("content")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if action not in ("accept", "decline", "cancel"):
        raise InputError("An answer's action is accept, decline or cancel.")
    answer = answer_from_content(gate, action, content if isinstance(content, dict) else None)  # pyright: ignore[reportUnknownArgumentType]
    if answer is None:
        return None  # dismissed: the gate stays open, the task waits on
    _, backend = app.adapters.require(task.profile, "gates", GatesAPI)
    outcome = await answer_gate(app.registry, backend, task.profile, gate.gate_id, answer)
    live = book_of(app).live.get(task.task_id)
    if live is not None:
        live.poke()
    return outcome.decision


async def cancel_task(app: App, task: TaskRecord) -> TaskRecord:
    """Cancel the task's run on the backend (an explicit request to stop it), and the task with it."""
    if task.ended:
        raise InputError(f"Task {task.task_id!r} has already ended ({task.status}); nothing to cancel.")
    _, backend, _ = await run_backend(app, task.profile, "runs", RunsAPI, task.run_id)
    run = await backend.cancel_run(task.run_id, reason="cancelled through its MCP task")
    await app.registry.update_run(task.profile, task.run_id, status=run.status)
    if run.status.terminal:
        await app.registry.close_gates(task.profile, task.run_id)
    book = book_of(app)
    now = await book.set(task, status="cancelled", status_message="cancelled: the run was cancelled on the backend")
    live = book.live.pop(task.task_id, None)
    if live is not None and live.scope is not None:
        live.scope.cancel()
    return now


async def list_tasks(app: App, owner: str | None, cursor: str | None, limit: int = 50) -> Page[TaskRecord]:
    return await app.registry.list_tasks(owner, cursor=cursor, limit=limit)
