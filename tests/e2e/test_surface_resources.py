"""Resources (`runbridge://` templates) and prompts through the official client, for a real run on the sandbox."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

TEMPLATES = {
    "runbridge://{profile}/runs/{run_id}",
    "runbridge://{profile}/runs/{run_id}/events{?cursor}",
    "runbridge://{profile}/gates",
    "runbridge://{profile}/targets/{target_id}",
}


async def _read(transcript: Any, client: Any, uri: str) -> Any:
    result = await client.read_resource(uri)
    transcript.record(result)
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_every_resource_template_reads_a_real_run(
    mode: str, connect: Any, transcript: Any, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:
            templates = (await client.list_resource_templates()).resource_templates
            resources = (await client.list_resources()).resources
            waiting = await transcript.ok(client, "runs_start", {"target_id": "approval-demo"})
            run_id, gate_id = waiting["run_id"], waiting["waiting_for"]["gate_id"]
            profiles = await _read(transcript, client, "runbridge://profiles")
            snapshot = await _read(transcript, client, f"runbridge://sandbox/runs/{run_id}")
            finished = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
            done_id = finished["run_id"]
            events = await _read(transcript, client, f"runbridge://sandbox/runs/{done_id}/events")
            later = await _read(transcript, client, f"runbridge://sandbox/runs/{done_id}/events?cursor=5")
            gates = await _read(transcript, client, "runbridge://sandbox/gates")
            target = await _read(transcript, client, "runbridge://sandbox/targets/approval-demo")
    assert {t.uri_template for t in templates} == TEMPLATES
    assert all(t.description for t in templates)
    assert [r.uri for r in resources] == ["runbridge://profiles"]
    assert profiles == [{"name": "sandbox", "family": "openwop", "base_url": sandbox.base_url}]
    assert snapshot["profile"] == "sandbox"
    assert snapshot["run"]["run_id"] == run_id
    assert snapshot["run"]["status"] == "waiting"
    assert snapshot["open_gates"] == [gate_id]
    assert "error" not in snapshot["run"], "a null field is left out, as in runs_get"
    assert snapshot["cursor"] == waiting["cursor"]
    seqs = [int(e["seq"]) for e in events["events"]]
    assert seqs == list(range(finished["events_seen"])), "every event, in order"
    assert events["ended"] is True
    assert "next_cursor" not in events, "resources leave out null fields, like tool results"
    assert events["events"][-1]["kind"] == "run.completed"
    assert [int(e["seq"]) for e in later["events"]] == seqs[6:]
    assert later["ended"] is True
    assert [g["gate_id"] for g in gates] == [gate_id]
    assert gates[0]["kind"] == "approval"
    assert "gates_respond" in gates[0]["how_to_answer"]
    assert target["id"] == "approval-demo"
    assert target["step_count"] == 5
    assert [s["id"] for s in target["steps"]] == ["plan", "research", "draft", "approve", "publish"]


async def test_a_resource_for_an_unknown_profile_or_run_is_a_clear_error(connect: Any, transcript: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            with pytest.raises(MCPError) as profile:
                await client.read_resource("runbridge://staging/gates")
            with pytest.raises(MCPError) as run:
                await client.read_resource("runbridge://sandbox/runs/run_does_not_exist")
            still = await _read(transcript, client, "runbridge://profiles")
    transcript.record(str(profile.value), str(run.value))
    assert "Unknown profile 'staging'" in str(profile.value)
    assert "Configured profiles: sandbox" in str(profile.value)
    assert "run_does_not_exist" in str(run.value)
    assert "not found" in str(run.value).lower()
    assert "Traceback" not in str(run.value)
    assert [p["name"] for p in still] == ["sandbox"]
    # The reader's mistake is "invalid params", not "internal error": nothing failed on the server.
    assert profile.value.code == INVALID_PARAMS
    assert run.value.code == INVALID_PARAMS


async def test_every_prompt_argument_has_a_description_a_host_can_show(connect: Any, transcript: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            listed = await client.list_prompts()
    transcript.record(listed)
    arguments = {(p.name, a.name): a for p in listed.prompts for a in p.arguments or []}
    assert set(arguments) == {
        ("start_and_supervise_run", "target_id"),
        ("start_and_supervise_run", "goal"),
        ("usage_report", "days"),
    }
    for (prompt, name), argument in arguments.items():
        described = argument.description or ""
        assert len(described) > 20, f"{prompt}.{name} has no description a host can show: {described!r}"
        assert "\n" not in described
    assert "targets_list" in (arguments["start_and_supervise_run", "target_id"].description or "")
    assert (arguments["start_and_supervise_run", "goal"].description or "").startswith("Optional")
    assert arguments["usage_report", "days"].required is False
    assert all(p.title and p.description for p in listed.prompts)


async def test_both_prompts_take_their_arguments_and_point_at_the_right_tools(connect: Any, transcript: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            prompts = {p.name: p for p in (await client.list_prompts()).prompts}
            supervise = await client.get_prompt(
                "start_and_supervise_run", {"target_id": "approval-demo", "goal": "publish the launch post"}
            )
            bare = await client.get_prompt("start_and_supervise_run", {"target_id": "quick-demo"})
            review = await client.get_prompt("review_pending_gates", {})
            usage = await client.get_prompt("usage_report", {"days": "7"})
            usage_default = await client.get_prompt("usage_report", {})
    transcript.record(supervise, bare, review, usage, usage_default)
    assert set(prompts) == {"start_and_supervise_run", "review_pending_gates", "usage_report"}
    usage_text = usage.messages[0].content.text  # type: ignore[union-attr]
    assert "usage_report for days=7" in usage_text
    assert "do not estimate" in usage_text
    assert "default period (30 days)" in usage_default.messages[0].content.text  # type: ignore[union-attr]
    arguments = {a.name: a.required for a in prompts["start_and_supervise_run"].arguments or []}
    assert arguments == {"target_id": True, "goal": False}
    assert prompts["review_pending_gates"].arguments in (None, [])
    (message,) = supervise.messages
    text = message.content.text  # type: ignore[union-attr]
    assert message.role == "user"
    assert "'approval-demo'" in text
    assert "publish the launch post" in text
    for tool in ("runs_start", "runs_watch", "gates_respond"):
        assert tool in text
    assert "never decide a gate yourself" in text
    bare_text = bare.messages[0].content.text  # type: ignore[union-attr]
    assert "'quick-demo'" in bare_text
    assert "The goal" not in bare_text
    review_text = review.messages[0].content.text  # type: ignore[union-attr]
    assert "gates_list" in review_text
    assert "gates_respond" in review_text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_prompt_that_does_not_exist_or_does_not_fit_is_invalid_params_without_a_stack_trace(
    mode: str, connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """JSON-RPC -32602 with one short sentence on both wires (the SDK alone sends code 0 on the 2025 wire, -32603 on
    the 2026 wire, and logs a stack trace); the prompt that fits still renders."""
    refused: dict[str, MCPError] = {}
    with anyio.fail_after(20):
        async with connect(mode=mode) as client:
            for label, name, arguments in [
                ("unknown", "no_such_prompt", {}),
                ("missing", "start_and_supervise_run", {}),
                ("extra", "start_and_supervise_run", {"target_id": "quick-demo", "colour": "blue"}),
                ("long", "x" * 5_000, {}),
                ("huge argument", "start_and_supervise_run", {"target_id": "y" * 100_000}),
            ]:
                with pytest.raises(MCPError) as caught:
                    await client.get_prompt(name, arguments)
                refused[label] = caught.value
            fine = await client.get_prompt("start_and_supervise_run", {"target_id": "quick-demo"})
    assert {label: error.code for label, error in refused.items()} == dict.fromkeys(refused, INVALID_PARAMS)
    assert refused["unknown"].message.startswith("Unknown prompt 'no_such_prompt'; this server offers:")
    assert "start_and_supervise_run" in refused["unknown"].message
    assert "missing target_id" in refused["missing"].message
    assert "It takes: target_id (required), goal (optional)" in refused["missing"].message
    assert "unknown colour" in refused["extra"].message
    assert len(refused["long"].message) < 300, "a name the client sent is not repeated whole"
    # An argument too long for its kind is refused, saying which and why, never rendered into the prompt or echoed.
    assert "target_id: String should have at most 256 characters" in refused["huge argument"].message
    assert "yyyy" not in refused["huge argument"].message
    assert "quick-demo" in fine.messages[0].content.text  # type: ignore[union-attr]
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")], caplog.text
