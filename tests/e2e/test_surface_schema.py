"""The tool surface as the client lists it: a schema snapshot, honest annotations, and what settings hide.

Regenerate the snapshot after an intended change with `RUNBRIDGE_UPDATE_SNAPSHOTS=1 pytest tests/e2e -k snapshot`
and review the diff of `tests/e2e/snapshots/tools.json` like code.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import runbridge.server
from runbridge.core import Profile, Settings
from runbridge.core.config import ALL_TOOLSETS
from runbridge.core.models import Run, RunEvent, StartRequest
from runbridge.server import visible_tools

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"
UPDATE_ENV = "RUNBRIDGE_UPDATE_SNAPSHOTS"

READ_ONLY = {
    "profiles_list",
    "targets_list",
    "targets_describe",
    "runs_get",
    "runs_events",
    "runs_list",
    "gates_list",
    "usage_report",
}
DESTRUCTIVE = {"runs_cancel", "gates_respond"}
RUNS = {"runs_start", "runs_watch", "runs_get", "runs_events", "runs_cancel", "runs_fork", "runs_list"}
EVERY_TOOL = READ_ONLY | RUNS | {"gates_respond"}
THREADS = {"threads_create", "threads_send", "threads_ask", "threads_history", "threads_set_secrets"}
APPROVALS = {"approvals_approve", "approvals_clear"}
AGENTS = {"agents_list", "agents_get", "agents_call", "agents_create", "agents_update", "agents_fork", "agents_delete"}


async def _listed(connect: Any, settings: Settings | None = None) -> list[dict[str, Any]]:
    with anyio.fail_after(10):
        async with connect(mode="legacy", server_settings=settings) as client:
            tools = (await client.list_tools()).tools
    return [
        {
            "name": t.name,
            "title": t.title,
            "description": t.description,
            "inputSchema": t.input_schema,
            "outputSchema": t.output_schema,
            "annotations": t.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
            if t.annotations
            else None,
        }
        for t in tools
    ]


def _every_family(settings: Settings) -> Settings:
    """The settings plus a profile of every other family and every toolset (`admin` too, off by default), so every
    tool is listed (backends connect lazily)."""
    extra = {
        "synapse": Profile(name="synapse", family="orchestrations", base_url="http://127.0.0.1:9"),
        "chat": Profile(name="chat", family="orchagent", base_url="http://127.0.0.1:9"),
        "oa": Profile(name="oa", family="platform", base_url="http://127.0.0.1:9"),
    }
    return settings.model_copy(update={"profiles": {**settings.profiles, **extra}, "toolsets": ALL_TOOLSETS})


async def test_the_tool_schemas_match_the_snapshot(connect: Any, settings: Settings) -> None:
    listed = await _listed(connect, _every_family(settings))
    assert {t["name"] for t in listed} >= EVERY_TOOL | THREADS | APPROVALS | AGENTS, "the snapshot covers every toolset"
    current = json.dumps(listed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert SNAPSHOT.is_file(), f"no snapshot yet: run with {UPDATE_ENV}=1 once and commit {SNAPSHOT.name}"
    expected = SNAPSHOT.read_text(encoding="utf-8")
    if current != expected:
        before = {t["name"]: t for t in json.loads(expected)}
        after = {t["name"]: t for t in json.loads(current)}
        changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
        pytest.fail(
            f"The tool surface changed ({', '.join(changed) or 'order or formatting'}). "
            f"If intended, regenerate with {UPDATE_ENV}=1 and review the diff of {SNAPSHOT.name}."
        )


async def test_every_tool_has_a_description_an_output_schema_and_honest_annotations(connect: Any) -> None:
    tools = {t["name"]: t for t in await _listed(connect)}
    assert set(tools) == EVERY_TOOL
    for name, tool in tools.items():
        assert tool["title"], name
        assert len(tool["description"] or "") > 40, name
        assert tool["description"] == tool["description"].strip(), f"{name}: description has stray whitespace"
        assert "\n    " not in tool["description"], f"{name}: description keeps its docstring indentation"
        assert (tool["outputSchema"] or {}).get("type") == "object", name
        assert tool["inputSchema"]["type"] == "object", name
        hints = tool["annotations"]
        assert hints["readOnlyHint"] is (name in READ_ONLY), name
        if name in READ_ONLY:
            assert "destructiveHint" not in hints, name
        else:
            assert hints["destructiveHint"] is (name in DESTRUCTIVE), name
    assert tools["runs_cancel"]["annotations"]["idempotentHint"] is True
    assert tools["runs_start"]["annotations"]["idempotentHint"] is False
    assert tools["gates_list"]["annotations"]["openWorldHint"] is False
    assert tools["usage_report"]["annotations"]["openWorldHint"] is True, "with `view` it reads a backend's usage"
    assert tools["runs_start"]["annotations"]["openWorldHint"] is True
    for follow in ("runs_start", "runs_watch", "runs_fork", "gates_respond"):
        assert {"run_id", "status", "done", "next", "cursor"} <= set(tools[follow]["outputSchema"]["properties"])
    assert "profile" in tools["runs_start"]["inputSchema"]["properties"]
    assert not any("key" in p for t in tools.values() for p in t["inputSchema"]["properties"]), "no secret inputs"


async def test_the_threads_and_approvals_tools_are_described_and_annotated_honestly(
    connect: Any, settings: Settings
) -> None:
    tools = {t["name"]: t for t in await _listed(connect, _every_family(settings))}
    for name in THREADS | APPROVALS:
        assert len(tools[name]["description"] or "") > 40, name
        assert (tools[name]["outputSchema"] or {}).get("type") == "object", name
    hints = {name: tools[name]["annotations"] for name in THREADS | APPROVALS}
    assert hints["threads_history"]["readOnlyHint"] is True
    assert hints["approvals_clear"]["destructiveHint"] is True
    assert hints["threads_send"]["readOnlyHint"] is False
    assert not any("secret" in p and "from" not in p for p in tools["threads_send"]["inputSchema"]["properties"]), (
        "secrets go by reference (secrets_from_env / secrets_from_file), never as values"
    )
    server = runbridge.server.build_server(_every_family(settings))
    assert "threads_send" in (server.instructions or "")
    assert "threads_send" not in (runbridge.server.build_server(settings).instructions or "")
    assert "usage_report" in (server.instructions or "")
    no_usage = settings.model_copy(update={"toolsets": frozenset({"runs", "gates"})})
    assert "usage_report" not in (runbridge.server.build_server(no_usage).instructions or "")


async def test_the_agents_tools_are_described_and_annotated_honestly(connect: Any, settings: Settings) -> None:
    tools = {t["name"]: t for t in await _listed(connect, _every_family(settings))}
    hints = {name: tools[name]["annotations"] for name in AGENTS}
    assert {n for n, h in hints.items() if h["readOnlyHint"]} == {"agents_list", "agents_get"}
    assert {n for n, h in hints.items() if h.get("destructiveHint")} == {"agents_delete"}
    for name in AGENTS:
        assert len(tools[name]["description"] or "") > 40, name
    assert {"run_id", "status", "done", "next", "cursor"} <= set(tools["agents_call"]["outputSchema"]["properties"])
    assert "llm_credentials" not in json.dumps(tools["agents_call"]["inputSchema"]), "keys come from the profile"
    assert "confirm" in tools["agents_delete"]["inputSchema"]["properties"]


async def test_read_only_mode_hides_every_tool_that_changes_something(connect: Any, settings: Settings) -> None:
    read_only = settings.model_copy(update={"read_only": True})
    specs = visible_tools(read_only)
    assert {s.name for s in specs} == READ_ONLY
    assert all(s.read_only for s in specs)
    assert {t["name"] for t in await _listed(connect, read_only)} == READ_ONLY


async def test_toolsets_choose_which_families_of_tools_are_listed(connect: Any, settings: Settings) -> None:
    runs_only = settings.model_copy(update={"toolsets": frozenset({"runs"})})
    assert {s.name for s in visible_tools(runs_only)} == RUNS
    assert {t["name"] for t in await _listed(connect, runs_only)} == RUNS
    both = settings.model_copy(update={"toolsets": frozenset({"gates", "profiles"}), "read_only": True})
    assert {s.name for s in visible_tools(both)} == {"gates_list", "profiles_list"}


class _RunsOnlyBackend:
    """An adapter that can run but not list targets, fork or answer gates."""

    family = "openwop"

    async def aclose(self) -> None: ...

    async def start_run(self, request: StartRequest) -> Run:
        raise NotImplementedError

    async def get_run(self, run_id: str) -> Run:
        raise NotImplementedError

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        raise NotImplementedError
        yield

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        raise NotImplementedError


async def test_a_backend_without_a_capability_hides_the_tools_that_need_it(
    connect: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runbridge.server, "adapter_class", lambda _profile: _RunsOnlyBackend)
    shown = {s.name for s in visible_tools(settings)}
    hidden = {"runs_fork", "gates_respond", "targets_list", "targets_describe"}
    assert shown == EVERY_TOOL - hidden
    assert {t["name"] for t in await _listed(connect, settings)} == EVERY_TOOL - hidden
