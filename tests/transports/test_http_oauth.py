"""`serve --http` as an OAuth resource server ([auth]): bearer JWTs signed by a test issuer whose metadata and JWKS
are served on loopback, through the official MCP client. The protected-resource metadata is served; a request
without a token, or with an expired, wrongly signed or wrong-audience one, gets 401 and a `WWW-Authenticate` header
pointing at the metadata; each user's tasks are theirs alone; a token without the write scope only reads."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from examples._tasks import TaskExtension, cancel, get, until, update
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from tests.oauth_issuer import WRITE, Issuer, issuer_on_loopback, stranger_key
from tests.raw_jsonrpc import ACCEPT, INITIALIZE

from runbridge.cli.serve import http_app
from runbridge.core import Settings
from runbridge.core.auth_config import AuthConfig
from runbridge.core.errors import ConfigError

pytestmark = pytest.mark.anyio

Serve = Callable[[Any], str]
RESOURCE = "http://127.0.0.1/mcp"


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with issuer_on_loopback(RESOURCE) as running:
        yield running


@pytest.fixture
def url(settings: Settings, issuer: Issuer, serve_http: Serve) -> str:
    auth = AuthConfig(issuer=issuer.url, resource_url=RESOURCE, write_scope=WRITE, leeway_seconds=5)
    return serve_http(http_app(settings.model_copy(update={"auth": auth}), host="127.0.0.1"))


@asynccontextmanager
async def _client(url: str, token: str, **kwargs: Any) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), **kwargs) as client,
    ):
        yield client


async def test_the_metadata_is_served_and_a_request_without_a_token_is_told_where(url: str, issuer: Issuer) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        refused = await http.post(url, json=INITIALIZE, headers=ACCEPT)
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        assert 'resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"' in challenge
        here = urlsplit(url)
        metadata = await http.get(f"{here.scheme}://{here.netloc}/.well-known/oauth-protected-resource/mcp")
        assert metadata.status_code == 200
        document = metadata.json()
        assert document["resource"] == RESOURCE
        assert document["authorization_servers"] == [issuer.url]


@pytest.mark.parametrize("kind", ["expired", "wrongly signed", "wrong audience", "not a JWT"])
async def test_a_bad_token_is_refused_with_401_and_a_clear_challenge(url: str, issuer: Issuer, kind: str) -> None:
    token = {
        "expired": lambda: issuer.token("alice", ttl=-120),
        "wrongly signed": lambda: issuer.token("alice", key=stranger_key()),
        "wrong audience": lambda: issuer.token("alice", aud="https://elsewhere.example/mcp"),
        "not a JWT": lambda: "not-a-jwt-at-all-0123456789",
    }[kind]()
    async with httpx2.AsyncClient(timeout=10) as http:
        refused = await http.post(url, json=INITIALIZE, headers={**ACCEPT, "Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge
    assert token not in refused.text


async def test_a_valid_token_reaches_the_tools(url: str, issuer: Issuer) -> None:
    with anyio.fail_after(30):
        async with _client(url, issuer.token("alice")) as client:
            result = await client.call_tool("runs_start", {"target_id": "quick-demo"})
    assert not result.is_error, result


async def test_one_user_cannot_read_the_others_task(url: str, issuer: Issuer) -> None:
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with _client(url, issuer.token("alice"), extensions=[tasks]) as alice:
            await alice.call_tool("runs_start", {"target_id": "approval-demo"})
            task_id = tasks.created[0].task_id
            await until(alice.session, task_id, "input_required")
            async with _client(url, issuer.token("bob"), extensions=[TaskExtension(poll=False)]) as bob:
                with pytest.raises(MCPError, match="No task"):
                    await get(bob.session, task_id)
            assert (await get(alice.session, task_id)).status == "input_required"


async def test_a_token_without_the_write_scope_only_reads(url: str, issuer: Issuer) -> None:
    tasks = TaskExtension(poll=False)
    with anyio.fail_after(40):
        async with _client(url, issuer.token("carol"), extensions=[tasks]) as writer:
            await writer.call_tool("runs_start", {"target_id": "approval-demo"})
            task_id = tasks.created[0].task_id
            await until(writer.session, task_id, "input_required")
        token = issuer.token("carol", scope="runbridge:read")  # the same user, read-only now
        async with _client(url, token, extensions=[TaskExtension(poll=False)]) as client:
            refused = await client.call_tool("runs_start", {"target_id": "quick-demo"})
            listed = await client.call_tool("runs_list", {})
            with pytest.raises(MCPError, match="read-only"):
                await cancel(client.session, task_id)
            with pytest.raises(MCPError, match="read-only"):
                await update(client.session, task_id, {"x": {"action": "decline"}})
            assert (await get(client.session, task_id)).status == "input_required"  # reading it is fine
    assert refused.is_error
    assert "read-only" in refused.content[0].text  # type: ignore[union-attr]
    assert WRITE in refused.content[0].text  # type: ignore[union-attr]
    assert not listed.is_error, listed


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    return result.structured_content


async def test_one_user_can_neither_see_nor_touch_the_others_runs_and_gates(url: str, issuer: Issuer) -> None:
    with anyio.fail_after(60):
        async with _client(url, issuer.token("alice")) as alice, _client(url, issuer.token("bob")) as bob:
            started = _data(await alice.call_tool("runs_start", {"target_id": "approval-demo", "wait_seconds": 5}))
            run_id = started["run_id"]
            [gate] = _data(await alice.call_tool("gates_list", {}))["gates"]
            assert [r["run_id"] for r in _data(await alice.call_tool("runs_list", {}))["runs"]] == [run_id]

            assert _data(await bob.call_tool("runs_list", {}))["runs"] == []
            assert _data(await bob.call_tool("gates_list", {}))["gates"] == []
            for tool, arguments in [
                ("runs_get", {"run_id": run_id}),
                ("runs_events", {"run_id": run_id}),
                ("runs_cancel", {"run_id": run_id}),
                ("gates_respond", {"gate_id": gate["gate_id"], "decision": "accept", "wait_seconds": 0}),
            ]:
                refused = await bob.call_tool(tool, arguments)
                assert refused.is_error, (tool, refused)
                text = refused.content[0].text  # type: ignore[union-attr]
                assert "No such run" in text or "Unknown gate" in text, (tool, text)

            gates_uri = "runbridge://sandbox/gates"
            assert json.loads((await bob.read_resource(gates_uri)).contents[0].text) == []  # type: ignore[union-attr]
            theirs = json.loads((await alice.read_resource(gates_uri)).contents[0].text)  # type: ignore[union-attr]
            assert [g["gate_id"] for g in theirs] == [gate["gate_id"]]
            with pytest.raises(MCPError, match="No such run"):
                await bob.read_resource(f"runbridge://sandbox/runs/{run_id}")

            still = _data(await alice.call_tool("runs_get", {"run_id": run_id}))
            assert still["run"]["status"] == "waiting"
            assert still["open_gates"] == [gate["gate_id"]]  # bob's answer reached nothing
            assert [g["gate_id"] for g in _data(await alice.call_tool("gates_list", {}))["gates"]] == [gate["gate_id"]]


def test_auth_and_a_shared_token_are_exclusive_and_auth_may_listen_beyond_loopback(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = AuthConfig(issuer="https://id.example.com", resource_url="https://mcp.example.com/mcp")
    with_auth = settings.model_copy(update={"auth": auth})
    monkeypatch.setenv("RB_SHARED_TOKEN", "s" * 32)
    with pytest.raises(ConfigError, match="keep one"):
        http_app(with_auth, host="127.0.0.1", token_env="RB_SHARED_TOKEN")
    assert http_app(with_auth, host="0.0.0.0", allowed_hosts=["mcp.example.com"]) is not None  # noqa: S104
    with pytest.raises(ConfigError, match="--token-env"):
        http_app(settings, host="0.0.0.0", allowed_hosts=["mcp.example.com"])  # noqa: S104


async def test_one_user_cannot_subscribe_to_the_others_run_in_either_era(url: str, issuer: Issuer) -> None:
    with anyio.fail_after(60):
        async with _client(url, issuer.token("alice")) as alice:
            started = _data(await alice.call_tool("runs_start", {"target_id": "approval-demo", "wait_seconds": 5}))
            uri = f"runbridge://sandbox/runs/{started['run_id']}"
            [gate] = _data(await alice.call_tool("gates_list", {}))["gates"]
            async with _client(url, issuer.token("bob"), mode="legacy") as bob:
                with pytest.raises(MCPError, match="No such run"):
                    await bob.subscribe_resource(uri)  # pyright: ignore[reportDeprecated]
            async with _client(url, issuer.token("alice"), mode="legacy") as owner:
                await owner.subscribe_resource(uri)  # pyright: ignore[reportDeprecated]  (the owner may)

            async with _client(url, issuer.token("bob")) as bob, bob.listen(resource_subscriptions=[uri]) as events:
                heard: list[str] = []

                async def hear() -> None:
                    async for event in events:
                        heard.append(getattr(event, "uri", ""))

                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(hear)
                    answer = {"gate_id": gate["gate_id"], "decision": "accept", "wait_seconds": 30}
                    done = _data(await alice.call_tool("gates_respond", answer))
                    await anyio.sleep(1)  # time for a change notice to arrive, were one sent
                    tasks.cancel_scope.cancel()
    assert done["status"] == "completed", done
    assert uri not in heard, "another user's run changed, and this listener was told"
