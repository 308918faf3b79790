"""Arguments outside a tool's input schema: the refusal names each field and what it should be, in the tool's own
words, without the validation library's report (model class names, rejected values, documentation links)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_invalid_arguments_are_one_curated_sentence_per_field(mode: str, connect: Any, transcript: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:
            limit = await transcript.refused(client, "runs_events", {"run_id": "x", "limit": "ten"})
            missing = await transcript.refused(client, "runs_get", {})
            two = await transcript.refused(
                client, "runs_start", {"target_id": "quick-demo", "inputs": 5, "wait_seconds": "soon"}
            )
            decision = await transcript.refused(client, "gates_respond", {"gate_id": "g", "decision": "maybe"})
            runs = await transcript.ok(client, "runs_list")
    assert limit.startswith("Invalid arguments for runs_events: `limit`: input should be a valid integer")
    assert missing.startswith("Invalid arguments for runs_get: `run_id`: required, but missing.")
    assert "`inputs`: input should be a JSON object; `wait_seconds`: input should be a valid number" in two
    assert "`decision`: input should be 'accept' or 'decline'" in decision
    for text in (limit, missing, two, decision):
        assert text.endswith("correct them as the tool's input schema says and call it again."), text
        assert "pydantic" not in text
        assert "Arguments" not in text, "the argument model's class name"
        assert "input_value" not in text
        assert "Error executing tool" not in text
    assert "'ten'" not in limit, "rejected values are not echoed"
    assert "soon" not in two
    assert runs["runs"] == [], "nothing was started"


async def test_a_tool_that_fails_with_valid_arguments_keeps_its_own_message(connect: Any, transcript: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            text = await transcript.refused(client, "runs_get", {"run_id": "run_does_not_exist"})
    assert "not found" in text.lower()
    assert "Invalid arguments" not in text
