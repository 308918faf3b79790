"""A thread's message as a 2026 MCP task (orchagent sandbox): `threads_ask` answers with a task bound to the
message's run; its sign-in gate (a link) and its tool approval (a form) are each the task's input request in
turn, answered with `tasks/update`; the completed task holds the assistant's reply."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from examples._tasks import TaskExtension, until, update
from mcp import Client
from tests.e2e.test_orchagent_threads import REPLY, oa_settings, orchagent, spec_file  # noqa: F401  (fixtures)

from runbridge.core import Settings
from runbridge.server import build_server

pytestmark = pytest.mark.anyio


async def test_threads_ask_as_a_task_through_both_gates_to_the_reply(oa_settings: Settings, spec_file: Any) -> None:  # noqa: F811
    tasks = TaskExtension(poll=False)
    asked: list[dict[str, Any]] = []
    with anyio.fail_after(40):
        async with Client(build_server(oa_settings), extensions=[tasks]) as client:
            created = await client.call_tool("threads_create", {"path": str(spec_file)})
            assert created.structured_content is not None
            thread_id = created.structured_content["thread_id"]
            await client.call_tool("threads_ask", {"thread_id": thread_id, "user_prompt": "Book it"})
            task_id = tasks.created[0].task_id
            while True:
                state = await until(client.session, task_id, "input_required", "completed", "failed")
                if state.status != "input_required":
                    break
                assert state.input_requests is not None
                [(key, request)] = state.input_requests.items()
                asked.append(request["params"])
                url_mode = request["params"].get("mode") == "url"
                answer = {"action": "accept"} if url_mode else {"action": "accept", "content": {"decision": "approve"}}
                await update(client.session, task_id, {key: answer})
                with anyio.fail_after(10):  # the answer is taken: this gate is not asked again
                    while (
                        again := await until(client.session, task_id, "input_required", "working", "completed")
                    ) and (again.input_requests and key in again.input_requests):
                        await anyio.sleep(0.05)
    assert state.status == "completed", state
    assert [p.get("mode", "form") for p in asked] == ["url", "form"]
    assert state.result is not None
    reply = state.result["structuredContent"]
    assert reply["reply"] == REPLY
    assert reply["done"] is True


async def test_threads_send_as_a_task_is_polled_to_the_assistants_reply(oa_settings: Settings) -> None:  # noqa: F811
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with Client(build_server(oa_settings), extensions=[tasks]) as client:
            created = await client.call_tool("threads_create", {"spec": {"workflow": "chat"}})
            assert created.structured_content is not None
            thread_id = created.structured_content["thread_id"]
            await client.call_tool("threads_send", {"thread_id": thread_id, "user_prompt": "one"})
            [task] = tasks.created
            assert task.status == "working"
            done = await until(client.session, task.task_id, "completed", "failed", "cancelled")
            snapshot = await client.call_tool("runs_get", {"run_id": task.task_id.split("/")[1]})
    assert done.status == "completed", done
    assert done.result is not None
    sent = done.result["structuredContent"]
    assert sent["status"] == "completed"
    assert sent["run_id"] == task.task_id.split("/")[1]
    assert snapshot.structured_content is not None
    assert snapshot.structured_content["run"]["outputs"] == "You said: one"
    assert snapshot.structured_content["run"]["target_id"] == thread_id
