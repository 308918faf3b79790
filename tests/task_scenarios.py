"""Task scenarios several transports play alike, through the official MCP client with the tasks extension."""

from __future__ import annotations

from typing import Any

import anyio
from examples._tasks import TaskExtension, listen_to_tasks, until, update
from mcp import Client


async def listened_through_its_gate(client: Client, tasks: TaskExtension) -> tuple[str, list[dict[str, Any]]]:
    """Start a gated run as a task with a listen stream naming it, answer its gate through the task, and listen
    until the stream has told its end: the task's id and the notifications told of it."""
    await client.call_tool("runs_start", {"target_id": "approval-demo"})
    task_id = tasks.created[0].task_id
    async with anyio.create_task_group() as listening:
        listening.start_soon(listen_to_tasks, client.session, task_id)
        waiting = await until(client.session, task_id, "input_required")
        assert waiting.input_requests is not None
        [key] = waiting.input_requests
        await update(client.session, task_id, {key: {"action": "accept", "content": {"decision": "accept"}}})
        await until(client.session, task_id, "completed")
        while not any(n["status"] == "completed" for n in tasks.notified):
            await anyio.sleep(0.05)
        listening.cancel_scope.cancel()
    return task_id, [n for n in tasks.notified if n["taskId"] == task_id]
