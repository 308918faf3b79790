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
from dataclasses import dataclass
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


@dataclass
class _User:
    """A user's two clients through the balancer (one of them making tasks), and what they started there."""

    calls: Client
    tasks: Client
    made: TaskExtension
    run_id: str = ""
    gate_id: str = ""
    task_id: str = ""

    async def start(self) -> None:
        started = structured(await self.calls.call_tool("runs_start", {"target_id": "approval-demo"}))
        self.run_id, self.gate_id = started["run_id"], started["waiting_for"]["gate_id"]
        await self.tasks.call_tool("runs_start", {"target_id": "approval-demo"})
        self.task_id = self.made.created[0].task_id
        await until(self.tasks.session, self.task_id, "input_required", within=30)

    async def try_theirs(self, other: _User, refused: dict[str, list[str]]) -> None:
        """Every way of listing, reading, answering or cancelling `other`'s run, gate and task; each refusal's text
        kept by tool."""
        assert structured(await self.calls.call_tool("runs_list", {}))["runs"] != []  # their own are listed
        assert other.run_id not in {
            r["run_id"] for r in structured(await self.calls.call_tool("runs_list", {}))["runs"]
        }
        listed = structured(await self.calls.call_tool("gates_list", {}))["gates"]
        assert other.gate_id not in {g["gate_id"] for g in listed}
        for tool, arguments in [
            ("runs_get", {"run_id": other.run_id}),
            ("runs_events", {"run_id": other.run_id}),
            ("runs_watch", {"run_id": other.run_id, "wait_seconds": 0}),
            ("runs_cancel", {"run_id": other.run_id}),
            ("gates_respond", {"gate_id": other.gate_id, "decision": "accept", "wait_seconds": 0}),
        ]:
            refused.setdefault(tool, []).append(_refusal(await self.calls.call_tool(tool, arguments)))
        for ask in (
            lambda: get(self.tasks.session, other.task_id),
            lambda: cancel(self.tasks.session, other.task_id),
            lambda: update(self.tasks.session, other.task_id, {"x": {"action": "accept"}}),
        ):
            with pytest.raises(MCPError, match="No task"):
                await ask()


async def test_two_users_behind_the_balancer_each_cannot_see_or_touch_the_others_runs_gates_and_tasks(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path, issuer: Issuer
) -> None:
    sandbox = make_sandbox("openwop")
    refused: dict[str, list[str]] = {}
    replicas: dict[str, set[str | None]] = {}
    with anyio.fail_after(150):
        async with cluster(tmp_path, sandbox, sandbox_key_env, auth=_auth(issuer)) as lb:
            issuer.audience = lb.url
            alice_tasks, bob_tasks = TaskExtension(poll=False), TaskExtension(poll=False)
            async with (
                _as(lb, issuer.token("alice")) as a1,
                _as(lb, issuer.token("alice"), extensions=[alice_tasks]) as a2,
                _as(lb, issuer.token("bob")) as b1,
                _as(lb, issuer.token("bob"), extensions=[bob_tasks]) as b2,
            ):
                alice, bob = _User(a1, a2, alice_tasks), _User(b1, b2, bob_tasks)
                await alice.start()
                await bob.start()
                for name, me, other in (("alice", alice, bob), ("bob", bob, alice)):
                    lb.seen.clear()
                    for _ in REPLICAS:  # three times: round-robin takes each kind of request to each replica
                        await me.try_theirs(other, refused)
                    replicas[name] = {s.replica for s in lb.seen}
                # Each, through any replica, still finds their own as they left them, and answers their gate.
                done: list[dict[str, Any]] = []
                for me in (alice, bob):
                    for _ in REPLICAS:
                        mine = structured(await me.calls.call_tool("runs_get", {"run_id": me.run_id}))
                        assert mine["run"]["status"] == "waiting"
                        assert mine["open_gates"] == [me.gate_id]
                        assert (await get(me.tasks.session, me.task_id)).status == "input_required"
                    answer = {"gate_id": me.gate_id, "decision": "accept", "wait_seconds": 20}
                    done.append(structured(await me.calls.call_tool("gates_respond", answer)))
            logs = {name: lb.log(name) for name in REPLICAS}
    assert replicas == {"alice": set(REPLICAS), "bob": set(REPLICAS)}, "each user's refusals came from every replica"
    for tool, texts in refused.items():
        assert len(texts) == 2 * len(REPLICAS)
        assert all("No such run" in t or "Unknown gate" in t for t in texts), (tool, texts)
    assert [d["status"] for d in done] == ["completed", "completed"], done
    assert sandbox.stats()["resolves"] == 2, "only each owner's answer reached the backend"
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
