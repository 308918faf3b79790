"""Per-user access behind the load balancer: HAProxy (docs/deploy/haproxy.cfg) in front of three `runbridge serve
--http` processes on one real Redis, every replica with the same `[auth]` table, the tokens signed by one test issuer
whose metadata and JWKS are served on loopback, through the official MCP client. Round-robin spreads each user's
calls over the replicas, so what one replica recorded as a user's is refused to another user by every replica: two
users, each unable to list, read, answer or cancel the other's runs, gates and tasks; an expired, wrongly signed or
wrong-audience token refused through the balancer; a read-only token refused a write. Which replica answered is
read from HAProxy's `X-Runbridge-Replica` response header."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from examples._tasks import TaskExtension, cancel, get, until, update
from faults_harness import MakeSandbox, structured
from lb_harness import REPLICAS, Cluster, cluster
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from tests.oauth_issuer import WRITE, Issuer, issuer_on_loopback, stranger_key
from tests.raw_jsonrpc import ACCEPT, INITIALIZE

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    with issuer_on_loopback() as running:
        yield running


def _auth(issuer: Issuer) -> dict[str, Any]:
    return {"issuer": issuer.url, "write_scope": WRITE, "leeway_seconds": 5}


@asynccontextmanager
async def _as(lb: Cluster, token: str, **kwargs: Any) -> AsyncIterator[Client]:
    """The official MCP client through the balancer with `token`, each request noted in `lb.seen`."""
    async with lb.watched() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        async with Client(streamable_http_client(lb.url, http_client=http), mode="auto", **kwargs) as client:
            yield client


def _refusal(result: Any) -> str:
    assert result.is_error, result
    return result.content[0].text


async def test_two_users_behind_the_balancer_each_cannot_see_or_touch_the_others_runs_gates_and_tasks(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path, issuer: Issuer
) -> None:
    sandbox = make_sandbox("openwop")
    tasks = TaskExtension(poll=False)
    refused: dict[str, list[str]] = {}
    with anyio.fail_after(120):
        async with cluster(tmp_path, sandbox, sandbox_key_env, auth=_auth(issuer)) as lb:
            issuer.audience = lb.url
            async with (
                _as(lb, issuer.token("alice")) as alice,
                _as(lb, issuer.token("alice"), extensions=[tasks]) as alice_tasks,
                _as(lb, issuer.token("bob"), extensions=[TaskExtension(poll=False)]) as bob,
            ):
                started = structured(await alice.call_tool("runs_start", {"target_id": "approval-demo"}))
                run_id, gate_id = started["run_id"], started["waiting_for"]["gate_id"]
                await alice_tasks.call_tool("runs_start", {"target_id": "approval-demo"})
                task_id = tasks.created[0].task_id
                await until(alice_tasks.session, task_id, "input_required", within=30)
                lb.seen.clear()
                # Three times each, so that round-robin takes bob's every request to each replica.
                for _ in REPLICAS:
                    assert structured(await bob.call_tool("runs_list", {}))["runs"] == []
                    assert structured(await bob.call_tool("gates_list", {}))["gates"] == []
                    for tool, arguments in [
                        ("runs_get", {"run_id": run_id}),
                        ("runs_events", {"run_id": run_id}),
                        ("runs_watch", {"run_id": run_id, "wait_seconds": 0}),
                        ("runs_cancel", {"run_id": run_id}),
                        ("gates_respond", {"gate_id": gate_id, "decision": "accept", "wait_seconds": 0}),
                    ]:
                        refused.setdefault(tool, []).append(_refusal(await bob.call_tool(tool, arguments)))
                    for ask in (
                        lambda: get(bob.session, task_id),
                        lambda: cancel(bob.session, task_id),
                        lambda: update(bob.session, task_id, {"x": {"action": "accept"}}),
                    ):
                        with pytest.raises(MCPError, match="No task"):
                            await ask()
                bobs = {s.replica for s in lb.seen}
                # Alice, through any replica, still finds all of hers as she left them.
                for _ in REPLICAS:
                    mine = structured(await alice.call_tool("runs_get", {"run_id": run_id}))
                    assert mine["run"]["status"] == "waiting"
                    assert mine["open_gates"] == [gate_id]
                    assert (await get(alice_tasks.session, task_id)).status == "input_required"
                listed = structured(await alice.call_tool("runs_list", {}))["runs"]
                answer = {"gate_id": gate_id, "decision": "accept", "wait_seconds": 20}
                done = structured(await alice.call_tool("gates_respond", answer))
            logs = {name: lb.log(name) for name in REPLICAS}
    assert bobs == set(REPLICAS), "bob's refusals came from every replica"
    for tool, texts in refused.items():
        assert len(texts) == len(REPLICAS)
        assert all("No such run" in t or "Unknown gate" in t for t in texts), (tool, texts)
    assert len(listed) == 2, "her run and her task's"
    assert run_id in {r["run_id"] for r in listed}
    assert done["status"] == "completed", done
    assert sandbox.stats()["resolves"] == 1, "only alice's answer reached the backend"
    assert not any("Traceback" in log for log in logs.values()), logs


async def test_bad_tokens_are_refused_through_the_balancer_and_a_read_only_token_cannot_write(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path, issuer: Issuer
) -> None:
    sandbox = make_sandbox("openwop")
    bad: dict[str, list[httpx2.Response]] = {}
    with anyio.fail_after(90):
        async with cluster(tmp_path, sandbox, sandbox_key_env, auth=_auth(issuer)) as lb:
            issuer.audience = lb.url
            tokens = {
                "expired": issuer.token("alice", ttl=-120),
                "wrongly signed": issuer.token("alice", key=stranger_key()),
                "wrong audience": issuer.token("alice", aud="https://elsewhere.example/mcp"),
                "none": "",
            }
            async with httpx2.AsyncClient(timeout=10) as http:
                for kind, token in tokens.items():
                    for _ in REPLICAS:  # round-robin: each replica refuses it
                        headers = ACCEPT | ({"Authorization": f"Bearer {token}"} if token else {})
                        response = await http.post(lb.url, json=INITIALIZE, headers=headers)
                        bad.setdefault(kind, []).append(response)
                metadata = await http.get(lb.url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"))
            async with _as(lb, issuer.token("carol", scope="runbridge:read")) as reader:
                writes = [await reader.call_tool("runs_start", {"target_id": "approval-demo"}) for _ in REPLICAS]
                reads = [await reader.call_tool("runs_list", {}) for _ in REPLICAS]
            async with _as(lb, issuer.token("carol")) as writer:
                wrote = structured(await writer.call_tool("runs_start", {"target_id": "approval-demo"}))
    for kind, responses in bad.items():
        assert {r.status_code for r in responses} == {401}, kind
        assert {r.headers.get("x-runbridge-replica") for r in responses} == set(REPLICAS), kind
        for response in responses:
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith("Bearer "), (kind, challenge)
            assert "resource_metadata=" in challenge, (kind, challenge)
            if kind != "none":
                assert 'error="invalid_token"' in challenge, (kind, challenge)
                assert tokens[kind] not in response.text
    assert metadata.status_code == 200
    assert metadata.json()["resource"] == lb.url
    assert metadata.json()["authorization_servers"] == [issuer.url]
    for result in writes:
        text = _refusal(result)
        assert "read-only" in text, text
        assert WRITE in text, text
    assert all(not r.is_error for r in reads), reads
    assert wrote["status"] == "waiting", "the same user, with the write scope, starts runs"
    assert sandbox.stats()["runs_created"] == 1, "the read-only token started nothing"
