"""A cursor runbridge did not give out is a tool error that names the tool to call without a cursor, on every tool
that pages; starting over silently would show the model the same items again as if they were new."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

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
