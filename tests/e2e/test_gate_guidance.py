"""What the model is told about gates and runs, through the official MCP client without elicitation: each gate
kind of each family says how to put it to the user and phrase the answer (`how_to_answer`), the report says which
tool to call (`next`) without repeating it, runs_get gives the same guidance from the registry, gates_list and the
gates resource leave out what is empty, and runs_list covers every profile unless one is named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from runbridge.core import Profile, Settings
from runbridge.http import write_token_file
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import EXAMPLE_SPECS
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
NOT_YOU = "A human must decide this, not you"


def _ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def _assert_complementary(report: dict[str, Any]) -> dict[str, Any]:
    """`next` names the tool and the gate; `how_to_answer` says how to ask and phrase; neither repeats the other."""
    gate = report["waiting_for"]
    how, nxt = gate["how_to_answer"], report["next"]
    assert how
    assert nxt
    sentences = [s.strip() for s in how.split(". ") if s.strip()]
    assert not [s for s in sentences if s in nxt], "next repeats how_to_answer"
    assert "gates_respond with gate_id=" + repr(gate["gate_id"]) in nxt
    assert "how_to_answer" in nxt
    return gate


# -- OpenWOP: approval, clarification, external --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_openwop_gates_say_how_to_phrase_each_kinds_answer_and_next_says_which_tool(
    mode: str, connect: Any
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode) as client:
            approval = _ok(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
            clarify = _ok(await client.call_tool("runs_start", {"target_id": "clarify-demo"}))
            external = _ok(await client.call_tool("runs_start", {"target_id": "external-demo"}))
    gate = _assert_complementary(approval)
    how = gate["how_to_answer"]
    assert NOT_YOU in how
    assert "decision 'accept'" in how
    assert "decision: one of 'accept' (Accept), 'reject' (Reject), 'refine' (Ask for changes), required" in how
    assert "feedback: text, optional" in how
    assert "'decline' (no values) rejects it" in how

    how = _assert_complementary(clarify)["how_to_answer"]
    assert NOT_YOU in how
    for field in clarify["waiting_for"]["fields"]:
        assert f"{field['name']} (" in how
    assert "'decline' sends nothing and the run keeps waiting" in how

    how = _assert_complementary(external)["how_to_answer"]
    assert "eventPayload (Event payload (JSON)): a JSON value, optional" in how
    assert "orderId (orderId (correlation key)): text, required" in how, how
    assert "keeps waiting" in how


# -- runs_get: the same guidance, from the registry -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_runs_get_on_a_waiting_run_shows_the_gate_and_what_to_do_with_one_backend_call(
    mode: str, connect: Any, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode) as client:
            waiting = _ok(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
            before = sum(sandbox.stats()["requests"].values())
            snapshot = _ok(await client.call_tool("runs_get", {"run_id": waiting["run_id"]}))
            calls = sum(sandbox.stats()["requests"].values()) - before
            done = _ok(await client.call_tool("runs_start", {"target_id": "quick-demo"}))
            finished = _ok(await client.call_tool("runs_get", {"run_id": done["run_id"]}))
    assert calls == 1, "runs_get reads the run once and the gates from the registry"
    gate = snapshot["waiting_for"]
    assert gate == waiting["waiting_for"]
    assert snapshot["open_gates"] == [gate["gate_id"]]
    assert "open_gate" not in snapshot["run"], "the gate is shown once, as waiting_for"
    assert f"gates_respond with gate_id={gate['gate_id']!r}" in snapshot["next"]
    assert f"runs_watch with run_id={waiting['run_id']!r}" in snapshot["next"]
    assert gate["how_to_answer"] not in snapshot["next"]
    assert "waiting_for" not in finished
    assert "The run is over" in finished["next"]


async def test_a_run_that_ended_at_its_gate_elsewhere_has_the_gate_closed_when_read(
    connect: Any, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            waiting = _ok(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
            run_id = waiting["run_id"]
            async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers) as http:
                (await http.post(f"/v1/runs/{run_id}/cancel", json={})).raise_for_status()  # not through runbridge
            read = await client.read_resource(f"runbridge://sandbox/runs/{run_id}")  # the resource sees it first
            listed = _ok(await client.call_tool("gates_list", {}))
            snapshot = _ok(await client.call_tool("runs_get", {"run_id": run_id}))
    (content,) = read.contents
    resource = json.loads(content.text)  # type: ignore[union-attr]
    assert resource["run"]["status"] == "cancelled"
    assert resource["open_gates"] == []
    assert resource["next"] == snapshot["next"], "the resource shows what runs_get returns"
    assert snapshot["run"]["status"] == "cancelled"
    assert snapshot["open_gates"] == []
    assert "waiting_for" not in snapshot
    assert "The run is over" in snapshot["next"]
    assert listed["gates"] == [], "a gate nobody can answer any more is not listed as waiting"


# -- gates_list and the gates resource: nothing empty ---------------------------------------------------------------


async def test_gates_list_and_the_gates_resource_leave_out_what_is_empty(connect: Any) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            empty = _ok(await client.call_tool("gates_list", {}))
            waiting = _ok(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
            listed = _ok(await client.call_tool("gates_list", {}))
            read = await client.read_resource("runbridge://sandbox/gates")
    assert empty["gates"] == []
    assert empty["note"] == "No gate is waiting for a human."
    assert "note" not in listed
    assert [g["gate_id"] for g in listed["gates"]] == [waiting["waiting_for"]["gate_id"]]
    (content,) = read.contents
    resource = json.loads(content.text)  # type: ignore[union-attr]
    assert resource == listed["gates"], "the resource is shaped like the tool result"
    assert "redirect_url" not in resource[0]
    assert "expires_at" not in resource[0]

    def nulls(node: Any) -> list[Any]:
        if isinstance(node, dict):
            return [k for k, v in node.items() if v is None] + [n for v in node.values() for n in nulls(v)]
        if isinstance(node, list):
            return [n for v in node for n in nulls(v)]
        return []

    assert nulls([{k: v for k, v in g.items() if k != "fields"} for g in resource]) == []


# -- runs_list across profiles --------------------------------------------------------------------------------------


async def test_runs_list_covers_every_profile_unless_one_is_named_and_pages_across_them(
    settings: Settings,
) -> None:
    second = settings.profiles["sandbox"].model_copy(update={"name": "second"})
    both = settings.model_copy(
        update={"profiles": {"sandbox": settings.profiles["sandbox"], "second": second}, "default_profile": "sandbox"}
    )
    with anyio.fail_after(30):
        async with Client(build_server(both), mode="legacy") as client:
            started: list[tuple[str, str]] = []
            for profile in ("sandbox", "second", "sandbox", "second", "second"):
                run = _ok(await client.call_tool("runs_start", {"target_id": "quick-demo", "profile": profile}))
                started.append((profile, run["run_id"]))
            everything = _ok(await client.call_tool("runs_list", {}))
            pages: list[dict[str, Any]] = []
            cursor = None
            while True:
                args: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
                page = _ok(await client.call_tool("runs_list", args))
                pages.append(page)
                cursor = page.get("next_cursor")
                if cursor is None:
                    break
            named = _ok(await client.call_tool("runs_list", {"profile": "second"}))
    newest_first = list(reversed(started))
    assert [(r["profile"], r["run_id"]) for r in everything["runs"]] == newest_first
    assert "profile" not in everything, "no single profile is listed"
    assert [len(p["runs"]) for p in pages] == [2, 2, 1]
    assert [(r["profile"], r["run_id"]) for p in pages for r in p["runs"]] == newest_first
    assert named["profile"] == "second"
    assert [r["run_id"] for r in named["runs"]] == [run for profile, run in newest_first if profile == "second"]
    assert {r["profile"] for r in named["runs"]} == {"second"}


# -- orchestrations: human_input_required with fields ---------------------------------------------------------------


@pytest.fixture(scope="module")
def synapse() -> Iterator[SandboxServer]:
    with SandboxServer("orchestrations", keepalive_seconds=0.2) as server:
        yield server


@pytest.mark.parametrize("mode", ERAS)
async def test_an_orchestrations_form_lists_its_fields_and_how_to_decline(
    mode: str, synapse: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBRIDGE_E2E_GUIDE_SYNAPSE_KEY", synapse.api_key)
    profile = Profile(
        name="synapse",
        family="orchestrations",
        base_url=synapse.base_url,
        api_key_env="RUNBRIDGE_E2E_GUIDE_SYNAPSE_KEY",
    )
    settings = Settings(profiles={"synapse": profile}, state_path=":memory:", wait_seconds=15)
    with anyio.fail_after(30):
        async with Client(build_server(settings), mode=mode) as client:
            report = _ok(
                await client.call_tool(
                    "runs_start", {"target_id": "orch-research-report", "message": "Synapse AI platform"}
                )
            )
            snapshot = _ok(await client.call_tool("runs_get", {"run_id": report["run_id"]}))
    gate = _assert_complementary(report)
    how = gate["how_to_answer"]
    assert NOT_YOU in how
    for field in gate["fields"]:
        assert f"{field['name']}" in how
    select = next(f for f in gate["fields"] if f["options"])
    assert all(repr(o) in how for o in select["options"])
    assert "'decline' (no values) rejects it" in how
    assert snapshot["waiting_for"]["how_to_answer"] == how
    assert "gates_respond" in snapshot["next"]


# -- orchagent: the sign-in gate and the tool approval --------------------------------------------------------------


@pytest.fixture(scope="module")
def orchagent() -> Iterator[SandboxServer]:
    with SandboxServer("orchagent", keepalive_seconds=0.2) as server:
        yield server


@pytest.mark.parametrize("mode", ERAS)
async def test_the_sign_in_gate_asks_for_the_link_and_a_confirmation_and_the_tool_approval_for_a_choice(
    mode: str, orchagent: SandboxServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token.json"
    write_token_file(token_file, orchagent.api_key)
    spec = tmp_path / "calendar.json"
    spec.write_text(json.dumps(EXAMPLE_SPECS["calendar_hil_chat"]), encoding="utf-8")
    profile = Profile(
        name="oa",
        family="orchagent",
        base_url=orchagent.base_url,
        token_file=token_file,
        options={"status_idle_seconds": 0.1},
        allowed_spec_dirs=[tmp_path],
    )
    settings = Settings(profiles={"oa": profile}, state_path=":memory:", wait_seconds=15)
    with anyio.fail_after(30):
        async with Client(build_server(settings), mode=mode) as client:
            thread_id = _ok(await client.call_tool("threads_create", {"path": str(spec)}))["thread_id"]
            sign_in = _ok(await client.call_tool("threads_send", {"thread_id": thread_id, "user_prompt": "Book it"}))
            auth = sign_in["waiting_for"]
            snapshot = _ok(await client.call_tool("runs_get", {"run_id": sign_in["run_id"]}))
            approval = _ok(await client.call_tool("gates_respond", {"gate_id": auth["gate_id"], "decision": "accept"}))
    assert auth["kind"] == "auth"
    assert auth["fields"] == []
    _assert_complementary(sign_in)
    how = auth["how_to_answer"]
    assert "never you" in how
    assert "give them the sign-in link (redirect_url)" in how
    assert "tell you when they have finished signing in" in how
    assert "decision 'accept' and no values" in how
    assert "fields" not in how
    assert "with values" not in how
    assert snapshot["waiting_for"]["how_to_answer"] == how

    tool_gate = _assert_complementary(approval)
    how = tool_gate["how_to_answer"]
    assert tool_gate["kind"] == "tool_approval"
    assert NOT_YOU in how
    assert "decision: one of 'approve' (Approve for this run), 'deny' (Deny), required" in how
    assert "'decline' (no values) rejects it" in how
