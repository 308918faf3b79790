"""A cursor runbridge did not give out is a tool error that names the tool to call without a cursor, on every tool
that pages; starting over silently would show the model the same items again as if they were new."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from runbridge.core import Profile, Settings
from runbridge.http import write_token_file
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

BAD = "page-two"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_every_paging_tool_refuses_a_cursor_it_did_not_give_out_and_names_itself(
    mode: str, connect: Any, transcript: Any
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode) as client:
            done = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
            run_id = done["run_id"]
            refusals = {
                "targets_list": await transcript.refused(client, "targets_list", {"cursor": BAD}),
                "runs_events": await transcript.refused(client, "runs_events", {"run_id": run_id, "cursor": BAD}),
                "runs_watch": await transcript.refused(
                    client, "runs_watch", {"run_id": run_id, "cursor": BAD, "wait_seconds": 2}
                ),
                "runs_list": await transcript.refused(client, "runs_list", {"cursor": BAD}),
                "gates_list": await transcript.refused(client, "gates_list", {"cursor": BAD}),
            }
            first_page = await transcript.ok(client, "targets_list", {"limit": 2})
            second_page = await transcript.ok(client, "targets_list", {"limit": 2, "cursor": first_page["next_cursor"]})
            events = await transcript.ok(client, "runs_events", {"run_id": run_id, "limit": 2})
            more = await transcript.ok(client, "runs_events", {"run_id": run_id, "cursor": events["next_cursor"]})
    for tool, text in refusals.items():
        assert text.endswith(
            f"Invalid cursor '{BAD}': it is not one runbridge gave out. "
            f"Call {tool} without a cursor to start from the beginning."
        ), text
    assert [t["id"] for t in second_page["targets"]] != [t["id"] for t in first_page["targets"]]
    assert more["events"][0]["seq"] == str(int(events["next_cursor"]) + 1), "real cursors still page on"


@pytest.fixture(scope="module")
def orchagent() -> Iterator[SandboxServer]:
    with SandboxServer("orchagent", keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def oa_settings(orchagent: SandboxServer, tmp_path: Path) -> Settings:
    token_file = tmp_path / "token.json"
    write_token_file(token_file, orchagent.api_key)
    profile = Profile(name="oa", family="orchagent", base_url=orchagent.base_url, token_file=token_file)
    return Settings(profiles={"oa": profile}, state_path=":memory:", wait_seconds=15, progress_interval_seconds=0)


async def test_thread_history_and_thread_runs_refuse_a_cursor_they_did_not_give_out(oa_settings: Settings) -> None:
    with anyio.fail_after(30):
        async with Client(build_server(oa_settings), mode="legacy") as client:
            created = await client.call_tool("threads_create", {"spec": {"workflow": "chat"}})
            thread_id = created.structured_content["thread_id"]  # type: ignore[index]
            sent = await client.call_tool("threads_send", {"thread_id": thread_id, "user_prompt": "hi"})
            run_id = sent.structured_content["run_id"]  # type: ignore[index]
            history = await client.call_tool("threads_history", {"thread_id": thread_id, "cursor": BAD})
            watch = await client.call_tool("runs_watch", {"run_id": run_id, "cursor": BAD, "wait_seconds": 2})
            events = await client.call_tool("runs_events", {"run_id": run_id, "cursor": BAD})
    for tool, result in (("threads_history", history), ("runs_watch", watch), ("runs_events", events)):
        assert result.is_error, (tool, result.structured_content)
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        assert text.endswith(f"Call {tool} without a cursor to start from the beginning."), text
