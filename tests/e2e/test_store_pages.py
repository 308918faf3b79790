"""`runs_list` and `gates_list` page through the run store with keyset cursors, through the official MCP client: the
pages join up with nothing repeated or skipped while new runs arrive, and a cursor that is not runbridge's (an
offset from before, or one whose number SQLite cannot hold) is a tool error naming the tool, never a traceback."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest

pytestmark = pytest.mark.anyio


def _forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_run_pages_join_up_while_runs_arrive_and_foreign_cursors_are_tool_errors(connect: Any) -> None:
    with anyio.fail_after(60):
        async with connect() as client:

            async def call(name: str, args: dict[str, Any]) -> Any:
                result = await client.call_tool(name, args)
                assert not result.is_error, result.content
                return result.structured_content

            started = [(await call("runs_start", {"target_id": "quick-demo"}))["run_id"] for _ in range(3)]
            first = await call("runs_list", {"limit": 2})
            late = (await call("runs_start", {"target_id": "quick-demo"}))["run_id"]  # newer: before page one
            second = await call("runs_list", {"limit": 2, "cursor": first["next_cursor"]})
            refusals = {
                (name, cursor): await client.call_tool(name, {"cursor": cursor})
                for name, cursor in (
                    ("runs_list", "20"),
                    ("runs_list", _forged(f'["2026-01-01T00:00:00+00:00", {2**64}]')),
                    ("gates_list", _forged('["2026-01-01T00:00:00+00:00", 7]')),
                )
            }
    listed = [r["run_id"] for r in first["runs"] + second["runs"]]
    assert listed == started[::-1], "newest first, each once, the late run not slipped in"
    assert late not in listed
    assert "next_cursor" not in second
    for (name, cursor), result in refusals.items():
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert f"Invalid cursor '{cursor[:30]}" in text, text
        assert text.endswith(f"Call {name} without a cursor to start from the beginning."), text
        assert "Traceback" not in text
        assert "Overflow" not in text
