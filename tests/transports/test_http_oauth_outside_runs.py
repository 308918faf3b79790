"""A run started outside runbridge (in the backend's own API here) on a server with `[auth]`, through the official
MCP client, with the run store in SQLite and in Redis: to a user it is "no such run" whatever they call with its
id (runbridge does not read it from the backend for them), and it stays so after an operator followed it; a token
with the configured operator scope reads, follows and answers it, and it stays owned by nobody; an operator does
not reach another user's runs."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from tests.oauth_issuer import WRITE, Issuer, issuer_on_loopback

from redis_server import RedisServer, redis_server_or_skip
from runbridge.cli.serve import http_app
from runbridge.core import Settings
from runbridge.core.auth_config import AuthConfig
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

Serve = Callable[[Any], str]
RESOURCE = "http://127.0.0.1/mcp"
OPERATOR = "runbridge:operator"


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with issuer_on_loopback(RESOURCE) as running:
        yield running


@pytest.fixture(params=["sqlite", "redis"])
def store_settings(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The transport settings with the run store in a SQLite file, or in a real Redis of this test's own."""
    if request.param == "sqlite":
        yield settings.model_copy(update={"state_path": str(tmp_path / "state.db")})
        return
    redis = RedisServer(redis_server_or_skip(), tmp_path / "redis")
    redis.start()
    monkeypatch.delenv("RUNBRIDGE_STATE_KEY", raising=False)
    monkeypatch.setenv("RUNBRIDGE_STATE_KEYS", "outside-runs-ring-" + "o" * 40)
    try:
        yield settings.model_copy(update={"state_url": redis.url})
    finally:
        redis.stop()


@pytest.fixture
def url(store_settings: Settings, issuer: Issuer, serve_http: Serve) -> str:
    auth = AuthConfig(
        issuer=issuer.url, resource_url=RESOURCE, write_scope=WRITE, operator_scope=OPERATOR, leeway_seconds=5
    )
    return serve_http(http_app(store_settings.model_copy(update={"auth": auth}), host="127.0.0.1"))


@asynccontextmanager
async def _client(url: str, token: str) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    return result.structured_content


async def _started_outside(sandbox: SandboxServer) -> str:
    """approval-demo started through the backend's own API, not through runbridge."""
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers, timeout=10) as http:
        response = await http.post("/v1/runs", json={"workflowId": "approval-demo"})
    assert response.status_code == 201, response.text
    return str(response.json()["runId"])


async def _refusals(client: Client, run_id: str, gate_id: str | None = None) -> dict[str, str]:
    """What each way of reaching the run by its id answered."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("runs_get", {"run_id": run_id}),
        ("runs_events", {"run_id": run_id}),
        ("runs_watch", {"run_id": run_id, "wait_seconds": 0}),
        ("runs_cancel", {"run_id": run_id}),
    ]
    if gate_id is not None:
        calls.append(("gates_respond", {"gate_id": gate_id, "decision": "accept", "wait_seconds": 0}))
    texts: dict[str, str] = {}
    for tool, arguments in calls:
        result = await client.call_tool(tool, arguments)
        assert result.is_error, (tool, result)
        texts[tool] = result.content[0].text  # type: ignore[union-attr]
    try:
        await client.read_resource(f"runbridge://sandbox/runs/{run_id}")
    except MCPError as exc:
        texts["resource"] = str(exc)
    return texts


def _all_unknown(texts: dict[str, str]) -> bool:
    return all("No such run" in t or "Unknown gate" in t for t in texts.values())


async def test_a_run_started_outside_runbridge_is_no_such_run_to_users_and_reached_by_operators(
    url: str, issuer: Issuer, sandbox: SandboxServer
) -> None:
    run_id = await _started_outside(sandbox)
    operator_token = issuer.token("ops", scope=f"{WRITE} {OPERATOR}")
    with anyio.fail_after(60):
        async with _client(url, issuer.token("alice")) as alice, _client(url, operator_token) as ops:
            before = await _refusals(alice, run_id)
            mine = _data(await alice.call_tool("runs_start", {"target_id": "approval-demo", "wait_seconds": 5}))
            assert [r["run_id"] for r in _data(await alice.call_tool("runs_list", {}))["runs"]] == [mine["run_id"]]

            seen = _data(await ops.call_tool("runs_get", {"run_id": run_id}))
            assert seen["run"]["status"] == "waiting"
            gate_id = seen["waiting_for"]["gate_id"]
            followed = _data(await ops.call_tool("runs_watch", {"run_id": run_id, "wait_seconds": 0}))
            assert followed["run_id"] == run_id
            # Recorded now, and owned by nobody: still no such run to a user, answering its gate included.
            after = await _refusals(alice, run_id, gate_id)
            async with _client(url, issuer.token("bob")) as bob:
                by_bob = await _refusals(bob, run_id, gate_id)
                assert _data(await bob.call_tool("runs_list", {}))["runs"] == []
            # An operator is not every user: alice's run is alice's.
            theirs = await _refusals(ops, mine["run_id"], mine["waiting_for"]["gate_id"])

            answer = {"gate_id": gate_id, "decision": "accept", "wait_seconds": 20}
            done = _data(await ops.call_tool("gates_respond", answer))
            resource = json.loads((await ops.read_resource(f"runbridge://sandbox/runs/{run_id}")).contents[0].text)  # type: ignore[union-attr]
            still = _data(await alice.call_tool("runs_get", {"run_id": mine["run_id"]}))
    assert _all_unknown(before), before
    assert set(before) == {"runs_get", "runs_events", "runs_watch", "runs_cancel", "resource"}
    assert _all_unknown(after), after
    assert _all_unknown(by_bob), by_bob
    assert _all_unknown(theirs), theirs
    assert len(theirs) == 6
    assert done["status"] == "completed", done
    assert resource["run"]["status"] == "completed"
    assert still["run"]["status"] == "waiting", "alice's own run was left alone"
