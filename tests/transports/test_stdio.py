"""runbridge over stdio, as a host runs it: `python -m runbridge serve` in a subprocess, driven by the official MCP
client in both eras, and by hand to check what its stdout and stderr carry and how it stops."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from tests.mcp_people import Progress
from transport_harness import ERAS, KEY_ENV, RUNBRIDGE, SECRET, Human, structured

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

PROTOCOL = {"legacy": "2025-11-25", "auto": "2026-07-28"}


@pytest.mark.parametrize("mode", ERAS)
async def test_a_gated_run_over_stdio_completes_with_progress_and_the_elicitation_accepted(
    mode: str, sandbox: SandboxServer, config_file: Path
) -> None:
    # The legacy run names its config through RUNBRIDGE_CONFIG, the modern one with `serve --config`.
    if mode == "legacy":
        args, env = ["--log-level", "DEBUG", "serve"], {"RUNBRIDGE_CONFIG": str(config_file)}
    else:
        args, env = ["serve", "--log-level", "DEBUG", "--config", str(config_file)], {}
    params = StdioServerParameters(command=sys.executable, args=[*RUNBRIDGE[1:], *args], env={**env, KEY_ENV: SECRET})
    human, progress = Human(), Progress()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        with anyio.fail_after(40):
            # The client fails on anything on stdout that is not JSON-RPC, so getting through is the stdout check.
            async with Client(stdio_client(params, errlog=errlog), mode=mode, elicitation_callback=human) as client:
                assert client.protocol_version == PROTOCOL[mode]
                tools = {tool.name for tool in (await client.list_tools()).tools}
                result = await client.call_tool(
                    "runs_start", {"target_id": "approval-demo"}, progress_callback=progress
                )
        errlog.seek(0)
        stderr = errlog.read()
    assert {"runs_start", "runs_watch", "gates_respond", "targets_list"} <= tools
    report = structured(result)
    assert report["status"] == "completed", report
    assert report["decision"] == "accepted"
    assert len(human.questions) == 1
    assert "Approve the launch announcement" in human.questions[0].message
    values = [value for value, _, _ in progress.updates]
    assert values, "no progress arrived over stdio"
    assert all(a < b for a, b in pairwise(values))
    assert "DEBUG" in stderr, "the debug log should have gone to stderr"
    assert SECRET not in stderr


async def _line(stdout: BufferedByteReceiveStream) -> dict[str, Any]:
    return json.loads(await stdout.receive_until(b"\n", 1_000_000))


async def _request(process: Process, stdout: BufferedByteReceiveStream, message: dict[str, Any]) -> dict[str, Any]:
    """Send one JSON-RPC request and return its response, keeping whatever came before it (notifications)."""
    assert process.stdin is not None
    await process.stdin.send(json.dumps(message).encode() + b"\n")
    while True:
        reply = await _line(stdout)
        assert reply["jsonrpc"] == "2.0", reply
        if reply.get("id") == message["id"]:
            return reply


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


async def _handshake(process: Process) -> BufferedByteReceiveStream:
    assert process.stdout is not None
    assert process.stdin is not None
    stdout = BufferedByteReceiveStream(process.stdout)
    reply = await _request(process, stdout, INITIALIZE)
    assert reply["result"]["serverInfo"]["name"] == "runbridge"
    await process.stdin.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    return stdout


async def test_stdout_carries_only_json_rpc_stderr_no_secret_and_closing_stdin_stops_the_server(
    child_env: dict[str, str],
) -> None:
    with anyio.fail_after(30):
        async with await anyio.open_process([*RUNBRIDGE, "--log-level", "DEBUG", "serve"], env=child_env) as process:
            stdout = await _handshake(process)
            # targets_list reaches the backend with the key, so a leak would show in the debug log.
            call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "targets_list"}}
            reply = await _request(process, stdout, call)
            assert reply["result"]["isError"] is False, reply
            assert process.stdin is not None
            await process.stdin.aclose()
            with anyio.fail_after(2):
                code = await process.wait()
            assert process.stderr is not None
            rest = b"".join([chunk async for chunk in stdout.receive_stream])
            stderr = b"".join([chunk async for chunk in process.stderr]).decode()
    assert code == 0, stderr
    for line in rest.splitlines():
        assert json.loads(line)["jsonrpc"] == "2.0", line
    assert [t["id"] for t in reply["result"]["structuredContent"]["targets"]] == ["approval-demo", "quick-demo"]
    assert "DEBUG" in stderr
    assert SECRET not in stderr
    assert SECRET not in json.dumps(reply)


async def test_sigterm_stops_the_stdio_server_within_two_seconds(child_env: dict[str, str]) -> None:
    with anyio.fail_after(30):
        async with await anyio.open_process([*RUNBRIDGE, "serve"], env=child_env) as process:
            await _handshake(process)
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(2):
                code = await process.wait()
    assert code in (0, -signal.SIGTERM)
