"""Replicas on one Redis (a real redis-server): a 2026 gate question asked through one runbridge server is answered by
retrying on another that shares the store and the key ring; keys rotate without turning answers away; a shared store
without a shared key ring is refused before serving; and a Redis restarted with persistence on (AOF, every write
synced) loses nothing, even when it was killed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ElicitResult, InputRequiredResult
from surface_harness import assert_curated, profile_for, resumes, settings_for, structured
from tests.mcp_people import Human

from redis_server import RedisServer
from runbridge.core import Settings
from runbridge.core.errors import ConfigError, GateError
from runbridge.core.models import EventKind, Gate, Run, RunEvent, RunStatus, Usage
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server
from runbridge.state import TaskRecord
from runbridge.state.redis_store import RedisStore

pytestmark = pytest.mark.anyio

KEY = "sk-redis-replicas-5c1d0e9a7b"
KEY_ENV = "RB_REDIS_REPLICAS_KEY"
OLD, NEW = "old-ring-key-" + "a" * 40, "new-ring-key-" + "b" * 40
P = "p"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", api_key=KEY, keepalive_seconds=0.2) as wop:
        yield wop


@pytest.fixture
def settings(sandbox: SandboxServer, redis: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv("RUNBRIDGE_STATE_KEY", raising=False)
    return settings_for(profile_for("openwop", sandbox, P, KEY_ENV), state_url=redis.url)


@asynccontextmanager
async def replica(settings: Settings, keys: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    """A runbridge server on the shared store whose key ring is `keys`, and a 2026 client connected to it."""
    monkeypatch.setenv("RUNBRIDGE_STATE_KEYS", keys)
    server = build_server(settings)  # the ring is read here, as `serve` does when it starts
    async with Client(server, mode="auto", elicitation_callback=Human()) as client:
        assert client.protocol_version == "2026-07-28"
        yield client


async def _ask(client: Client) -> str:
    asked = await client.session.call_tool("runs_start", {"target_id": "approval-demo"}, allow_input_required=True)
    assert isinstance(asked, InputRequiredResult), asked
    assert asked.request_state
    return asked.request_state


async def _retry(client: Client, state: str) -> CallToolResult:
    answer = {"gate": ElicitResult(action="accept", content={"decision": "accept"})}
    result = await client.session.call_tool(
        "runs_start", {"target_id": "approval-demo"}, input_responses=answer, request_state=state
    )
    assert isinstance(result, CallToolResult), result
    return result


async def test_a_question_asked_through_one_replica_is_answered_by_retrying_on_another(
    settings: Settings, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = resumes(sandbox)
    with anyio.fail_after(30):
        async with replica(settings, OLD, monkeypatch) as one:
            state = await _ask(one)
        async with replica(settings, f"{NEW},{OLD}", monkeypatch) as two:  # rotated: NEW seals, OLD still opens
            done = structured(await _retry(two, state))
            replayed = await _retry(two, state)
            listed = structured(await two.call_tool("runs_list", {}))
    assert done["status"] == "completed", done
    assert replayed.is_error, "the gate was answered once, on whichever replica"
    assert resumes(sandbox) == before + 1
    assert done["run_id"] in [r["run_id"] for r in listed["runs"]], "the run is in the shared store"


async def test_once_the_old_key_is_dropped_its_continuations_are_refused_and_the_gate_stays_answerable(
    settings: Settings, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = resumes(sandbox)
    with anyio.fail_after(30):
        async with replica(settings, OLD, monkeypatch) as one:
            state = await _ask(one)
        async with replica(settings, NEW, monkeypatch) as two:
            with pytest.raises(MCPError) as refused:
                await _retry(two, state)
            (gate,) = structured(await two.call_tool("gates_list", {}))["gates"]
            args = {"gate_id": gate["gate_id"], "decision": "accept", "values": {"decision": "accept"}}
            answered = structured(await two.call_tool("gates_respond", args))
    assert "Invalid or expired requestState" in refused.value.message
    assert_curated(refused.value.message, OLD)
    assert answered["status"] == "completed"
    assert resumes(sandbox) == before + 1


async def test_pages_through_the_mcp_client_join_up_and_a_forged_cursor_is_a_tool_error(
    settings: Settings, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with anyio.fail_after(30):
        async with replica(settings, NEW, monkeypatch) as client:
            for _ in range(3):
                await client.call_tool("runs_start", {"target_id": "quick-demo"})
            first = structured(await client.call_tool("runs_list", {"limit": 2}))
            rest = structured(await client.call_tool("runs_list", {"limit": 2, "cursor": first["next_cursor"]}))
            forged = await client.call_tool("runs_list", {"cursor": "20"})  # an offset, as cursors once were
            garbled = await client.call_tool("gates_list", {"cursor": "not-a-cursor"})
    ids = [r["run_id"] for r in first["runs"] + rest["runs"]]
    assert len(ids) == len(set(ids)) == 3
    for refused in (forged, garbled):
        assert refused.is_error
        text = refused.content[0].text  # type: ignore[union-attr]
        assert_curated(text, KEY)
        assert "it is not one runbridge gave out" in text


def test_a_shared_store_without_a_shared_key_ring_is_refused_before_serving(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBRIDGE_STATE_KEYS", raising=False)
    with pytest.raises(ConfigError, match=r"state_url shares the run store.*set \$RUNBRIDGE_STATE_KEYS"):
        build_server(settings)
    monkeypatch.setenv("RUNBRIDGE_STATE_KEYS", f"{NEW}, short")
    with pytest.raises(ConfigError, match=r"RUNBRIDGE_STATE_KEYS must hold at least 32 random bytes in each"):
        build_server(settings)
    monkeypatch.setenv("RUNBRIDGE_STATE_KEYS", NEW)
    monkeypatch.setenv("RUNBRIDGE_STATE_KEY", OLD)
    with pytest.raises(ConfigError, match=r"Both \$RUNBRIDGE_STATE_KEYS and \$RUNBRIDGE_STATE_KEY are set"):
        build_server(settings)


def test_runbridge_serve_on_a_shared_store_without_a_key_ring_stops_with_one_line(
    tmp_path: Path, redis: RedisServer
) -> None:
    config = tmp_path / "runbridge.toml"
    profile = '[profiles.p]\nfamily = "openwop"\nbase_url = "http://127.0.0.1:9"\n'
    config.write_text(f'[server]\nstate_url = "{redis.url}"\n\n{profile}', encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "runbridge", "serve", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "set $RUNBRIDGE_STATE_KEYS to the same keys on every server" in done.stderr
    ring = {**env, "RUNBRIDGE_STATE_KEYS": NEW}
    redis.stop()
    done = subprocess.run(
        [sys.executable, "-m", "runbridge", "serve", "--config", str(config)],
        env=ring,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert "Cannot reach the run store's Redis at redis://127.0.0.1:" in done.stderr
    assert NEW not in done.stderr


def test_a_redis_that_cannot_be_reached_is_refused_before_serving(
    settings: Settings, redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBRIDGE_STATE_KEYS", NEW)
    redis.stop()
    with pytest.raises(ConfigError, match=r"Cannot reach the run store's Redis at redis://127\.0\.0\.1:\d+/0"):
        build_server(settings)


def _event(seq: int) -> RunEvent:
    return RunEvent(kind=EventKind.MESSAGE, raw_type="message", seq=str(seq), run_id="r1", text=f"event {seq}")


@pytest.mark.parametrize("how", ["stopped", "killed"])
async def test_redis_restarted_with_persistence_on_loses_nothing(redis: RedisServer, how: str) -> None:
    """With AOF on and every write synced, even a Redis killed (SIGKILL) comes back with every run, gate, claim,
    event and task, and a claim made before is still refused after."""
    gate = Gate(gate_id="g1", run_id="r1", kind="approval", prompt="Approve?", opened_at=datetime.now(UTC))
    now = datetime.now(UTC)
    task = TaskRecord("t1", P, "r1", "runs_start", "working", now, now, None, 1000, owner="alice")
    before = RedisStore(redis.url)
    try:
        await before.record_run(P, Run(run_id="r1", target_id="wf", status=RunStatus.RUNNING), locator={"t": "1"})
        await before.update_run(P, "r1", status=RunStatus.WAITING, usage=Usage(total_tokens=7), cursor="c9")
        await before.record_gate(P, gate)
        await before.record_gate(P, gate.model_copy(update={"gate_id": "g2"}))
        await before.claim_gate(P, "g2")
        await before.append_events(P, "r1", [_event(i) for i in range(50)])
        await before.record_task(task)
        await before.update_task("t1", status="input_required", gate_id="g1")
        wrote = (await before.get_run(P, "r1"), await before.events(P, "r1", limit=100), await before.get_task("t1"))
    finally:
        await before.aclose()
    redis.stop(kill=how == "killed")
    redis.start()
    after = RedisStore(redis.url)
    try:
        assert (
            await after.get_run(P, "r1"),
            await after.events(P, "r1", limit=100),
            await after.get_task("t1"),
        ) == wrote
        assert [g.gate.gate_id for g in await after.gates(P)] == ["g1"]
        assert (await after.gates(P, states=("answering",)))[0].owner == before.owner
        with pytest.raises(GateError, match="being answered right now"):
            await after.claim_gate(P, "g2")
        assert (await after.claim_gate(P, "g1")).gate_id == "g1"
        assert [r.run_id for r in (await after.list_runs(P, status=RunStatus.WAITING)).items] == ["r1"]
    finally:
        await after.aclose()


async def test_a_redis_that_went_away_is_a_clear_error_and_the_store_works_again_once_it_is_back(
    redis: RedisServer,
) -> None:
    store = RedisStore(redis.url)
    try:
        await store.record_run(P, Run(run_id="r1", status=RunStatus.RUNNING))
        redis.stop()
        with pytest.raises(Exception, match=r"run store at redis://127\.0\.0\.1:\d+/0 could not be used") as caught:
            await store.get_run(P, "r1")
        assert "Traceback" not in str(caught.value)
        redis.start()
        assert (await store.get_run(P, "r1")) is not None
    finally:
        await store.aclose()


async def test_hundreds_of_calls_at_once_queue_for_connections_rather_than_fail(redis: RedisServer) -> None:
    """More calls in flight than the store's pool has connections: each waits for one, none fails."""
    store = RedisStore(redis.url)
    try:
        async with anyio.create_task_group() as tasks:
            for i in range(400):
                tasks.start_soon(store.record_run, P, Run(run_id=f"r{i}", status=RunStatus.RUNNING))
        assert len((await store.list_runs(P, limit=500)).items) == 400
    finally:
        await store.aclose()


async def test_a_redis_out_of_memory_is_a_clear_error_and_loses_nothing_stored(redis: RedisServer) -> None:
    store = RedisStore(redis.url)
    try:
        await store.record_run(P, Run(run_id="r1", status=RunStatus.RUNNING))
        await store._redis.config_set("maxmemory", "1")  # pyright: ignore[reportPrivateUsage]
        with pytest.raises(Exception, match=r"refused the change \(OutOfMemoryError: command not allowed") as caught:
            await store.record_run(P, Run(run_id="r2", status=RunStatus.RUNNING))
        assert "Traceback" not in str(caught.value)
        await store._redis.config_set("maxmemory", "0")  # pyright: ignore[reportPrivateUsage]
        assert [r.run_id for r in (await store.list_runs(P)).items] == ["r1"]
        assert await store.get_run(P, "r2") is None, "the refused transaction wrote nothing"
    finally:
        await store.aclose()
