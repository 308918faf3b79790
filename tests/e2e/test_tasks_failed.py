"""A task ends `failed` only when runbridge itself cannot finish the call: here the task is taken up by a new
runbridge whose backend no longer knows the run (its store was reset), so there is no tool result to give; the task
says why, in its error, in both eras' terms (`tasks/get`'s `error`)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from examples._tasks import TaskExtension, get, until
from mcp import Client

from runbridge.core import Settings
from runbridge.server import Lifecycle, build_server

pytestmark = pytest.mark.anyio


async def test_a_task_whose_run_the_backend_no_longer_knows_ends_failed_with_why(
    settings: Settings, slow_settings: Settings, tmp_path: Path
) -> None:
    state = str(tmp_path / "state.db")
    first = slow_settings.model_copy(update={"state_path": state})
    lifecycle = Lifecycle()
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with Client(build_server(first, lifecycle=lifecycle), extensions=[tasks]) as client:
            await client.call_tool("runs_start", {"target_id": "long-demo"})
            task_id = tasks.created[0].task_id
            assert (await get(client.session, task_id)).status == "working"
            await lifecycle.stop_calls()  # runbridge stops: the task is left for the next one
        # The next runbridge, on the same state file, reaches a backend that has never heard of the run.
        reset = settings.model_copy(update={"state_path": state})
        async with Client(build_server(reset), extensions=[TaskExtension(poll=False)]) as client:
            seen: list[str] = []
            ended = await until(
                client.session, task_id, "completed", "failed", "cancelled", on_state=lambda s: seen.append(s.status)
            )
            again = await get(client.session, task_id)
    assert ended.status == "failed", ended
    assert ended.result is None
    assert ended.error is not None
    assert ended.error["code"] == -32603
    assert f"Run '{task_id.split('/')[1]}' not found" in ended.error["message"]
    assert again.status == "failed", "an ended task never changes"
    assert set(seen) <= {"working", "failed"}, seen
