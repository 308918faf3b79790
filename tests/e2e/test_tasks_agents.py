"""An agent call as a 2026 MCP task (orq.ai sandbox): `agents_call` answers with a task bound to the call's run, the
client-tool-call gate is the task's input request, answered with `tasks/update`, and the completed task holds the
agent's answer."""

from __future__ import annotations

import anyio
import pytest
from examples._tasks import TaskExtension, until, update
from mcp import Client
from tests.e2e.test_orq_agents import orq, settings  # noqa: F401  (fixtures: the orq sandbox and its profile)

from runbridge.core import Settings
from runbridge.server import build_server

pytestmark = pytest.mark.anyio


async def test_agents_call_as_a_task_through_its_client_tool_gate(settings: Settings) -> None:  # noqa: F811
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(30):
        async with Client(build_server(settings), extensions=[tasks]) as client:
            await client.call_tool("agents_call", {"agent_id": "weather-agent", "message": "Lisbon"})
            task_id = tasks.created[0].task_id
            waiting = await until(client.session, task_id, "input_required")
            assert waiting.input_requests is not None
            [(key, request)] = waiting.input_requests.items()
            assert "get_weather" in request["params"]["message"]
            assert request["params"]["requestedSchema"]["required"] == ["result"]
            await update(client.session, task_id, {key: {"action": "accept", "content": {"result": "sunny, 21 C"}}})
            done = await until(client.session, task_id, "completed", "failed")
    assert done.status == "completed", done
    assert done.result is not None
    assert done.result["structuredContent"]["outputs"]["text"] == "The tool said: sunny, 21 C"
