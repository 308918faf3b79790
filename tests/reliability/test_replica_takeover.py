"""A replica killed outright (SIGKILL) while it follows runs in the background, with the run store in a real Redis,
through the official MCP client (2026 era); each replica's `[server] follow_lease_seconds` is 2, so a dead
replica's lease lapses within seconds.

* Behind the real HAProxy of `lb_harness`: a gated OpenWOP run that replica r1 follows for its listen stream, while
  replica r2 listens to it too (and only r1 watches the backend). r1 is killed; r2 takes the following over, the
  gate is answered through r3, resumed once, and r2's listener hears of the run's end. `runs_events` through either
  survivor lists every event of the sandbox's own log once.
* A Synapse v1 streamed run (whose stream only the replica that started it can read) started through replica A: B
  shows what A stored, as A recorded it, while A lives; A is killed mid-stream; B then says once that the stream was
  lost, and that the run's status is unknown, inventing nothing.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from faults_harness import MakeSandbox, listed_events, profile_for, structured, wait_for_port, write_config
from lb_harness import cluster, replica_env, start_http_replica, stop_processes
from mcp import Client

from ports import free_port
from redis_server import RedisServer, redis_server_or_skip

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

LEASE = 2.0
RING = "takeover-ring-key-" + "t" * 40


async def _until(condition: Any, *, within: float, every: float = 0.1) -> None:
    with anyio.fail_after(within):
        while not condition():
            await anyio.sleep(every)  # polls a condition, bounded by fail_after


async def test_a_killed_replica_s_followed_run_is_taken_over_and_its_listener_hears_the_end(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("openwop", keepalive_seconds=0.05)  # its own: its open-streams gauge counts this test's
    heard: list[str] = []
    async with cluster(tmp_path, sandbox, sandbox_key_env, follow_lease_seconds=LEASE) as here:
        with anyio.fail_after(90):
            async with Client(here.url, mode="auto") as starter:
                waiting = structured(await starter.call_tool("runs_start", {"target_id": "approval-demo"}))
            run_id, gate_id = waiting["run_id"], waiting["waiting_for"]["gate_id"]
            uri = f"runbridge://rel/runs/{run_id}"
            await _until(lambda: sandbox.stats()["open_streams"] == 0, within=10)  # runs_start's own watch is over
            async with (
                Client(here.replica_url("r1"), mode="auto") as on_r1,
                Client(here.replica_url("r2"), mode="auto") as on_r2,
                on_r1.listen(resource_subscriptions=[uri]),
            ):
                await _until(lambda: sandbox.stats()["open_streams"] == 1, within=10)  # r1 follows the run
                async with on_r2.listen(resource_subscriptions=[uri]) as listening:
                    await anyio.sleep(3 * LEASE)  # r2 tries the lease several times meanwhile
                    watching_before = sandbox.stats()["open_streams"]
                    here.kill("r1")
                    await _until(lambda: "took over following" in here.log("r2"), within=6 * LEASE)
                    async with Client(here.replica_url("r3"), mode="auto") as on_r3:
                        answer = {"gate_id": gate_id, "decision": "accept", "wait_seconds": 0}
                        structured(await on_r3.call_tool("gates_respond", answer))
                        async for event in listening:  # until a re-read shows the run's end
                            heard.append(getattr(event, "uri", ""))
                            seen = structured(await on_r2.call_tool("runs_get", {"run_id": run_id}))
                            if seen["run"]["status"] == "completed":
                                break
                        listed = {
                            name: await listed_events(client, run_id) for name, client in (("r2", on_r2), ("r3", on_r3))
                        }
        logs = {name: here.log(name) for name in ("r2", "r3")}
    wire = httpx2.get(f"{sandbox.base_url}/v1/runs/{run_id}/events/poll?timeout=0", headers=sandbox.headers)
    expected = [str(event["sequence"]) for event in wire.json()["events"]]  # the sandbox's own log of the run
    assert watching_before == 1, "one replica watched the backend for both listeners, not each its own"
    assert heard
    assert set(heard) == {uri}
    for name, events in listed.items():
        seqs = [seq for seq, _ in events]
        assert not [seq for seq, n in Counter(seqs).items() if n > 1], (name, seqs)
        assert seqs == expected, (name, seqs, expected)
    assert sandbox.stats()["resolves"] == 1, "the gate was resumed once"
    assert not any("Traceback" in log for log in logs.values()), logs


async def test_a_v1_stream_s_reader_killed_mid_run_is_said_lost_once_with_nothing_invented(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = make_sandbox("orchestrations")
    sandbox.faults.set_stream(quiet_at=6, quiet_seconds=120)  # the stream goes quiet mid-run (pings only)
    redis = RedisServer(redis_server_or_skip(), tmp_path / "redis")
    redis.start()
    profile = profile_for("orchestrations", sandbox, sandbox_key_env)
    config = write_config(
        tmp_path / "runbridge.toml", profile, state_url=redis.url, follow_lease_seconds=LEASE, wait_seconds=20
    )
    env = replica_env(sandbox_key_env, RING)
    ports = {"a": free_port(), "b": free_port()}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, port in ports.items():
            processes[name] = start_http_replica(tmp_path, name, port, config, env, "--log-level", "INFO")
        for port in ports.values():
            await wait_for_port(port, within=30)
        url_a, url_b = (f"http://127.0.0.1:{ports[n]}/mcp" for n in ("a", "b"))
        with anyio.fail_after(90):
            async with Client(url_a, mode="auto") as a, Client(url_b, mode="auto") as b:
                started = structured(await a.call_tool("runs_start", {"target_id": "long-demo", "wait_seconds": 1}))
                run_id = started["run_id"]
                on_a = await listed_events(a, run_id)  # A reads the stream: its own log of the run
                alive = structured(await b.call_tool("runs_watch", {"run_id": run_id, "wait_seconds": 1}))
                on_b_alive = await listed_events(b, run_id)
                got_alive = structured(await b.call_tool("runs_get", {"run_id": run_id}))
                killed = processes.pop("a")
                killed.kill()
                killed.wait()
                await anyio.sleep(LEASE + 0.5)  # A's lease lapses
                lost = structured(await b.call_tool("runs_watch", {"run_id": run_id, "wait_seconds": 1}))
                again = structured(await b.call_tool("runs_watch", {"run_id": run_id, "wait_seconds": 1}))
                got_lost = structured(await b.call_tool("runs_get", {"run_id": run_id}))
                on_b = await listed_events(b, run_id)
        log_b = (tmp_path / "b.log").read_text(errors="replace")
    finally:
        stop_processes(processes.values())
        redis.stop()
    assert started["status"] == "running", started
    assert on_a, "A read the run's first events before the stream went quiet"
    # While A lives, B follows the run from what A stores: the same events, the run still running.
    assert alive["status"] == "running", alive
    assert on_b_alive == on_a
    assert got_alive["run"]["status"] == "running", got_alive
    # A died: B says once that the stream was lost, and that the run's status is unknown; nothing else is made up.
    assert (lost["status"], lost["source"]) == ("unknown", "lost"), lost
    assert lost["events_seen"] == 1, lost  # the loss, after what the last call saw
    assert (again["status"], again["events_seen"]) == ("unknown", 0), again
    assert got_lost["run"]["status"] == "unknown", got_lost
    assert on_b[:-1] == on_a, (on_b, on_a)
    assert on_b[-1][1] == "runbridge.stream_lost", on_b
    assert log_b.count("which stopped while reading its stream") == 1, log_b
    assert "Traceback" not in log_b
