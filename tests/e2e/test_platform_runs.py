"""The orchagent.io platform's workspace runs through the official MCP client: `runs_list` on a platform profile
lists the workspace's run history with runbridge's own records, each run once, paged to the end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from tests.e2e.conftest import ok

from runbridge.core import Profile, Settings
from runbridge.core.models import Run, RunStatus
from runbridge.sandbox import SandboxServer
from runbridge.state import SqliteStore

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_E2E_PLATFORM_KEY"
RUNS = "/workspaces/ws_acme_personal/runs"


@pytest.fixture
def oa() -> Iterator[SandboxServer]:
    with SandboxServer("platform", speed=20.0) as server:
        yield server


@pytest.fixture
def settings(oa: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, oa.api_key)
    profile = Profile(name="oa", family="platform", base_url=oa.base_url, api_key_env=KEY_ENV)
    return Settings(profiles={"oa": profile}, state_path=":memory:", wait_seconds=15, progress_interval_seconds=0)


async def _all_pages(client: Any, **args: Any) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = ok(await client.call_tool("runs_list", {**args, **({"cursor": cursor} if cursor else {})}))
        assert len(page["runs"]) <= args["limit"]
        runs += page["runs"]
        cursor = page.get("next_cursor")
        if not cursor:
            return runs
    raise AssertionError("runs_list never reached its last page")


async def test_runs_list_on_a_platform_profile_lists_the_workspace_runs_once_each(
    connect: Any, oa: SandboxServer
) -> None:
    with anyio.fail_after(60):
        async with connect(mode="legacy") as client:
            call = ok(
                await client.call_tool("agents_call", {"agent_id": "acme/repo-auditor", "input": {"repo": "acme/x"}})
            )
            everything = await _all_pages(client, profile="oa", limit=17)
            failed = await _all_pages(client, profile="oa", limit=4, status="failed")
            store_only = ok(await client.call_tool("runs_list", {"limit": 100}))
    workspace = httpx2.get(f"{oa.base_url}{RUNS}?limit=200", headers=oa.headers).json()["runs"]
    ids = [r["run_id"] for r in everything]
    assert len(ids) == len(set(ids)), "a run shown twice"
    assert set(ids) == {r["id"] for r in workspace}, "every workspace run, and nothing else"
    ours = [r for r in everything if r["run_id"] == call["run_id"]]
    assert [r["source"] for r in ours] == ["runbridge"], "the call made here is shown as runbridge recorded it"
    assert ids[0] == call["run_id"], "newest first"
    started = {r["id"]: r["started_at"] for r in workspace}
    from_backend = [started[r["run_id"]] for r in everything if r["source"] == "backend"]
    assert from_backend == sorted(from_backend, reverse=True)
    assert {r["run_id"] for r in failed} == {r["id"] for r in workspace if r["status"] == "failed"}
    assert all(r["status"] == "failed" for r in failed)
    assert [r["run_id"] for r in store_only["runs"]] == [call["run_id"]], "without a profile: runbridge's records"


async def test_a_garbled_cursor_is_refused(connect: Any) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            result = await client.call_tool("runs_list", {"profile": "oa", "cursor": "m1.notacursor"})
    assert result.is_error
    assert "cursor" in " ".join(getattr(c, "text", "") for c in result.content).lower()


async def test_a_call_that_never_ran_is_said_so_by_runs_get_and_runs_watch(
    connect: Any, settings: Settings, tmp_path: Path
) -> None:
    """A `call_…` run another runbridge recorded, whose call never reached the platform (no run of the agent started
    when it was sent): both tools say what happened to it, neither reports a status nobody read."""
    state = tmp_path / "state.db"
    store = SqliteStore(state)
    sent = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()  # no run of the agent started then
    locator = {"agent": "acme/summarizer@v2", "sent_at": sent, "input_digest": "0" * 32}
    try:
        await store.record_run("oa", Run(run_id="call_00000000000000cc", status=RunStatus.QUEUED), locator=locator)
    finally:
        await store.aclose()
    on_file = settings.model_copy(update={"state_path": str(state)})
    with anyio.fail_after(30):
        async with connect(mode="legacy", server_settings=on_file) as client:
            got = await client.call_tool("runs_get", {"run_id": "call_00000000000000cc"})
            watched = await client.call_tool("runs_watch", {"run_id": "call_00000000000000cc", "wait_seconds": 5})
    for result in (got, watched):
        text = " ".join(getattr(c, "text", "") for c in result.content)
        assert result.is_error, result.structured_content
        assert "nothing ran" in text, text
        assert "acme/summarizer@v2" in text
