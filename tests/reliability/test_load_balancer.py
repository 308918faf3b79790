"""A real HAProxy (docs/deploy/haproxy.cfg) in front of three `runbridge serve --http` processes on one real Redis,
on loopback, through the official MCP client: 2026-era calls spread round-robin with gate retries answered by
other replicas than the one that asked; a gate opened through one replica answered through another; runs and gates
read alike from every replica; 2025-era sessions kept on their replica (sticky on Mcp-Session-Id) with live
elicitation. Which replica answered is read from HAProxy's `X-Runbridge-Replica` response header. A replica keeps an
idle connection open longer than clients and HAProxy keep theirs, so it never closes one they are about to reuse."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import h11
import pytest
from faults_harness import MakeSandbox, openwop_config, structured, wait_for_port
from lb_harness import REPLICAS, RING, Cluster, cluster, replica_env, start_http_replica, stop_processes
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ElicitRequestParams, ElicitResult

from ports import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.no_cover]  # load: see tests/conftest.py

RUNS = 200
CLIENTS = 10


async def accept(_context: Any, _params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"decision": "accept"})


async def test_2026_calls_spread_over_the_replicas_and_gate_retries_are_answered_by_others(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    reports: dict[int, dict[str, Any]] = {}

    async def runs_through(lb: Cluster, numbers: range) -> None:
        async with (
            lb.watched() as http,
            Client(streamable_http_client(lb.url, http_client=http), mode="auto", elicitation_callback=accept) as c,
        ):
            assert c.protocol_version == "2026-07-28"

            async def one(n: int) -> None:
                args = {"target_id": "approval-demo", "inputs": {"n": n}}
                reports[n] = structured(await c.call_tool("runs_start", args))

            async with anyio.create_task_group() as tg:
                for n in numbers:
                    tg.start_soon(one, n)

    views: dict[str, dict[str, str]] = {}
    gates: dict[str, list[str]] = {}

    async def read_all(lb: Cluster, name: str) -> None:
        """Every run and every gate, as replica `name` reads them."""
        async with Client(lb.replica_url(name), mode="auto") as direct:
            seen: dict[str, str] = {}

            async def get(run_id: str) -> None:
                seen[run_id] = structured(await direct.call_tool("runs_get", {"run_id": run_id}))["run"]["status"]

            async with anyio.create_task_group() as tg:
                for report in reports.values():
                    tg.start_soon(get, report["run_id"])
            views[name] = seen
            listed, cursor = [], None
            while True:
                page = structured(
                    await direct.call_tool("gates_list", {"include_closed": True, "limit": 100, "cursor": cursor})
                )
                listed += [g["gate_id"] for g in page["gates"]]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            gates[name] = sorted(listed)

    with anyio.fail_after(240):
        async with cluster(tmp_path, sandbox, sandbox_key_env) as lb:
            async with anyio.create_task_group() as tg:
                per = RUNS // CLIENTS
                for i in range(CLIENTS):
                    tg.start_soon(runs_through, lb, range(i * per, (i + 1) * per))
            async with anyio.create_task_group() as tg:  # every replica reads every run and its gate alike
                for name in REPLICAS:
                    tg.start_soon(read_all, lb, name)
            logs = {name: lb.log(name) for name in REPLICAS}

    assert sorted(reports) == list(range(RUNS))
    assert all(r["status"] == "completed" for r in reports.values()), [
        r for r in reports.values() if r["status"] != "completed"
    ][:2]
    assert sandbox.stats()["resolves"] == RUNS, "each gate resumed exactly once"
    starts = [s for s in lb.seen if s.tool == "runs_start"]
    asked = {s.arguments["inputs"]["n"]: s.replica for s in starts if not s.retry}
    retried = {s.arguments["inputs"]["n"]: s.replica for s in starts if s.retry}
    assert sorted(asked) == sorted(retried) == list(range(RUNS)), "each run asked once and was retried once"
    assert all(s.session is None for s in lb.seen), "2026-era requests carry no session"
    assert set(Counter(s.replica for s in lb.seen)) == set(REPLICAS), "round-robin reached every replica"
    elsewhere = [n for n in asked if retried[n] != asked[n]]
    assert len(elsewhere) >= RUNS // 3, f"only {len(elsewhere)} of {RUNS} retries reached another replica"
    assert views["r1"] == views["r2"] == views["r3"]
    assert sorted(views["r1"]) == sorted(r["run_id"] for r in reports.values())
    assert set(views["r1"].values()) == {"completed"}
    assert gates["r1"] == gates["r2"] == gates["r3"]
    assert len(gates["r1"]) == RUNS
    assert not any("Traceback" in log for log in logs.values()), logs


async def test_a_gate_opened_through_one_replica_is_answered_through_another_and_seen_by_all(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    with anyio.fail_after(60):
        async with cluster(tmp_path, sandbox, sandbox_key_env) as lb:
            async with Client(lb.replica_url("r1"), mode="auto") as a:  # no elicitation: the gate is handed back
                assert a.protocol_version == "2026-07-28"
                asked = structured(await a.call_tool("runs_start", {"target_id": "approval-demo"}))
            pending: dict[str, list[str]] = {}
            for name in ("r2", "r3"):
                async with Client(lb.replica_url(name), mode="auto") as other:
                    listed = structured(await other.call_tool("gates_list", {}))
                    pending[name] = [g["gate_id"] for g in listed["gates"]]
            gate_id = asked["waiting_for"]["gate_id"]
            async with Client(lb.replica_url("r2"), mode="auto") as b:
                done = structured(await b.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"}))
            seen = {}
            for name in REPLICAS:
                async with Client(lb.replica_url(name), mode="auto") as any_one:
                    seen[name] = structured(await any_one.call_tool("runs_get", {"run_id": done["run_id"]}))["run"]
    assert pending["r2"] == pending["r3"] == [gate_id]
    assert done["status"] == "completed", done
    assert {s["status"] for s in seen.values()} == {"completed"}
    assert sandbox.stats()["resolves"] == 1


async def test_2025_sessions_stay_on_their_replica_and_their_live_elicitation_is_answered_there(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop")
    questions: list[ElicitRequestParams] = []

    async def person(context: Any, params: ElicitRequestParams) -> ElicitResult:
        questions.append(params)
        return await accept(context, params)

    reports: list[dict[str, Any]] = []
    with anyio.fail_after(60):
        async with cluster(tmp_path, sandbox, sandbox_key_env) as lb:
            for _ in range(4):
                async with (
                    lb.watched() as http,
                    Client(
                        streamable_http_client(lb.url, http_client=http), mode="legacy", elicitation_callback=person
                    ) as c,
                ):
                    assert c.protocol_version == "2025-11-25"
                    reports.append(structured(await c.call_tool("runs_start", {"target_id": "approval-demo"})))
    assert [r["status"] for r in reports] == ["completed"] * 4
    assert len(questions) == 4, "each run's gate was asked live, over its session"
    by_session: dict[str, set[str | None]] = {}
    for s in lb.seen:
        if s.session:
            by_session.setdefault(s.session, set()).add(s.replica)
    assert len(by_session) == 4
    assert all(len(replicas) == 1 for replicas in by_session.values()), by_session
    assert len({next(iter(r)) for r in by_session.values()}) >= 2, "new sessions spread over the replicas"
    assert sandbox.stats()["resolves"] == 4


def _asked_twice_on_one_connection(port: int, pause: float) -> list[int]:
    """Two requests on one kept-alive connection, `pause` seconds apart: the status of each answer (0: none came,
    the server had closed the connection)."""
    statuses: list[int] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        client = h11.Connection(our_role=h11.CLIENT)
        for wait in (0.0, pause):
            if wait:
                anyio.from_thread.run(anyio.sleep, wait)
                client.start_next_cycle()
            request = h11.Request(method="GET", target="/nothing-here", headers=[("Host", f"127.0.0.1:{port}")])
            try:
                sock.sendall(client.send(request) + client.send(h11.EndOfMessage()))
                status = 0
                while True:
                    event = client.next_event()
                    if event is h11.NEED_DATA:
                        client.receive_data(sock.recv(65536))
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                    elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                        break
            except (OSError, h11.RemoteProtocolError):
                status = 0
            statuses.append(status)
    return statuses


async def test_an_idle_connection_is_kept_open_longer_than_clients_and_balancers_keep_theirs(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    """A client (httpx: 5 s) or a balancer that reuses an idle connection just as the server closes it loses that
    request unanswered; so `serve --http` keeps idle connections open longer than they do."""
    sandbox = make_sandbox("openwop")
    config = openwop_config(tmp_path / "rb.toml", sandbox, sandbox_key_env, state_path=str(tmp_path / "state.db"))
    port = free_port()
    process = start_http_replica(tmp_path, "one", port, config, replica_env(sandbox_key_env, RING))
    try:
        with anyio.fail_after(40):
            await wait_for_port(port, within=30)
            statuses = await anyio.to_thread.run_sync(_asked_twice_on_one_connection, port, 7.0)
    finally:
        stop_processes([process])
    assert statuses == [404, 404], "the second request, 7 s later, was answered on the same connection"
