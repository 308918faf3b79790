"""Gated runs end to end, through the official MCP client, in the 2025 (live elicitation) and 2026 (input
required) eras, against the OpenWOP sandbox on loopback."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import anyio
import pytest

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.parametrize("mode", ERAS)
async def test_an_accepted_approval_completes_the_run_with_exactly_one_backend_run(
    mode: str, connect: Any, human_factory: Any, progress: Any, sandbox: SandboxServer
) -> None:
    human = human_factory(("accept", {"decision": "accept", "feedback": "ship it"}))
    before = sandbox.stats()["runs_created"]
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            result = await client.call_tool("runs_start", {"target_id": "approval-demo"}, progress_callback=progress)
    report = _structured(result)
    assert report["status"] == "completed", {k: v for k, v in report.items() if k != "waiting_for"}
    assert report["done"] is True
    assert report["decision"] == "accepted"
    assert report["outputs"]["result"] == "Announcement published."
    assert sandbox.stats()["runs_created"] == before + 1
    assert len(human.questions) == 1
    question = human.questions[0]
    assert "Approve the launch announcement" in question.message
    schema = question.requested_schema  # type: ignore[union-attr]
    assert schema["required"] == ["decision"]
    assert [o["const"] for o in schema["properties"]["decision"]["oneOf"]] == ["accept", "reject", "refine"]
    values = [p for p, _, _ in progress.updates]
    assert all(a < b for a, b in pairwise(values)), "progress must strictly increase"
    assert any(m and "step 2/5 Research" in m for _, _, m in progress.updates)


@pytest.mark.parametrize("mode", ERAS)
async def test_a_declined_approval_rejects_it_and_the_run_fails(mode: str, connect: Any, human_factory: Any) -> None:
    human = human_factory(("decline", None))
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            report = _structured(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
    assert report["decision"] == "declined"
    assert report["status"] == "failed"
    assert report["error_code"] == "interrupt_rejected"


@pytest.mark.parametrize("mode", ERAS)
async def test_a_dismissed_question_leaves_the_gate_open_for_gates_respond(
    mode: str, connect: Any, human_factory: Any
) -> None:
    human = human_factory(("cancel", None))
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            report = _structured(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
            assert report["decision"] == "cancelled"
            assert report["status"] == "waiting"
            gate = report["waiting_for"]
            listed = _structured(await client.call_tool("gates_list", {}))
            assert [g["gate_id"] for g in listed["gates"]] == [gate["gate_id"]]
            done = _structured(
                await client.call_tool(
                    "gates_respond",
                    {"gate_id": gate["gate_id"], "decision": "accept", "values": {"decision": "accept"}},
                )
            )
    assert done["status"] == "completed"


@pytest.mark.parametrize("mode", ERAS)
async def test_a_clarification_is_answered_with_free_text(mode: str, connect: Any, human_factory: Any) -> None:
    human = human_factory(("accept", {"audience": "developers", "tone": "friendly"}))
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            report = _structured(await client.call_tool("runs_start", {"target_id": "clarify-demo"}))
    assert report["status"] == "completed", {k: v for k, v in report.items() if k != "waiting_for"}
    fields = human.questions[0].requested_schema["properties"]  # type: ignore[union-attr]
    assert set(fields) == {"audience", "tone"}


async def test_a_client_without_elicitation_gets_a_waiting_result_and_gates_respond_finishes_the_run(
    connect: Any,
) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy", human=None) as client:
            report = _structured(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
            assert report["status"] == "waiting"
            gate = report["waiting_for"]
            assert gate["kind"] == "approval"
            assert "A human must decide this, not you" in gate["how_to_answer"]
            assert "gates_respond" in report["next"]
            done = _structured(
                await client.call_tool(
                    "gates_respond",
                    {"gate_id": gate["gate_id"], "decision": "accept", "values": {"decision": "accept"}},
                )
            )
            assert done["status"] == "completed"
            again = await client.call_tool(
                "gates_respond", {"gate_id": gate["gate_id"], "decision": "accept", "values": {"decision": "accept"}}
            )
    assert again.is_error
    assert "already answered" in again.content[0].text  # type: ignore[union-attr]
