"""The stdio transport's two ways of moving bytes: pipes read and written straight from the event loop, and
anything else (a file, a terminal) through a worker thread. Either way every line is a message or an answered
error, the answers come out whole and in order, and the session's input ends when stdin does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import anyio
import pytest
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse
from transport_harness import RUNBRIDGE

from runbridge.server.stdio import frame_message, stdio_streams

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
FRAMES = [
    b'{"jsonrpc": "2.0", "id": 7, "method": "ping"}',
    b"{broken",
    b'{"jsonrpc": "2.0", "id": {"n": 1}, "method": "ping"}',
    b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
    b'{"jsonrpc": "2.0", "id": "last", "method": "ping"}',  # no newline after the last line
]


def test_a_frame_is_a_message_or_the_error_that_answers_it() -> None:
    request = frame_message(FRAMES[0])
    assert isinstance(request, SessionMessage)
    assert isinstance(request.message, JSONRPCRequest)
    notification = frame_message(FRAMES[3])
    assert isinstance(notification, SessionMessage)
    assert isinstance(notification.message, JSONRPCNotification)
    for frame, code in (
        (FRAMES[1], -32700),
        (FRAMES[2], -32600),
        (b'{"jsonrpc": "2.0", "id": [1], "method": "x"}', -32600),
    ):
        error = frame_message(frame)
        assert not isinstance(error, SessionMessage)
        assert (error.id, error.error.code) == (None, code), frame


async def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> list[Any]:
    """Read every message the transport passes on, answering each request with its own id."""
    received: list[Any] = []
    with anyio.fail_after(10):
        async with stdio_streams(stdin, stdout) as (read_stream, write_stream):
            async for item in read_stream:
                assert isinstance(item, SessionMessage)
                received.append(item.message)
                if isinstance(item.message, JSONRPCRequest):
                    answer = JSONRPCResponse(jsonrpc="2.0", id=item.message.id, result={})
                    await write_stream.send(SessionMessage(answer))
    return received


def _check(received: list[Any], written: bytes) -> None:
    assert [type(m).__name__ for m in received] == ["JSONRPCRequest", "JSONRPCNotification", "JSONRPCRequest"]
    lines = written.decode().splitlines()
    replies = [json.loads(line) for line in lines]
    # A broken line is answered as soon as it is read; requests when the session answers them.
    answered = [(r["id"], r.get("error", {}).get("code")) for r in replies]
    assert sorted(answered, key=str) == sorted([(7, None), (None, -32700), (None, -32600), ("last", None)], key=str)
    assert answered.index((7, None)) < answered.index(("last", None))


async def test_files_are_read_and_written_through_a_thread(tmp_path: Path) -> None:
    source, sink = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b"\n".join(FRAMES))
    with source.open("rb") as stdin, sink.open("wb") as stdout:
        received = await _serve(stdin, stdout)
    _check(received, sink.read_bytes())


async def test_pipes_are_read_and_written_without_blocking_and_left_as_they_were() -> None:
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    with open(in_read, "rb", buffering=0) as stdin, open(out_write, "wb", buffering=0) as stdout:
        async with anyio.create_task_group() as tasks:

            async def client() -> None:
                for frame in FRAMES:  # a frame split over two writes is still one line
                    os.write(in_write, frame[:5])
                    await anyio.sleep(0.01)
                    os.write(in_write, frame[5:] + (b"\n" if frame is not FRAMES[-1] else b""))
                os.close(in_write)

            tasks.start_soon(client)
            received = await _serve(stdin, stdout)
        assert os.get_blocking(in_read)
        assert os.get_blocking(out_write)
    with open(out_read, "rb") as written:
        _check(received, written.read())


def test_runbridge_serve_answers_frames_read_from_a_file_and_exits_at_its_end(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    frames = [
        json.dumps(INITIALIZE).encode(),
        b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
        b'{"jsonrpc": "2.0", "id": {"n": 2}, "method": "tools/list"}',
        b'{"jsonrpc": "2.0", "id": 3, "method": "tools/list"}',
    ]
    source = tmp_path / "frames.jsonl"
    source.write_bytes(b"\n".join(frames) + b"\n")
    with source.open("rb") as stdin:
        done = subprocess.run(
            [*RUNBRIDGE, "serve"], stdin=stdin, capture_output=True, env=child_env, timeout=60, check=False
        )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    replies = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r["id"] for r in replies] == [1, None, 3]
    assert replies[1]["error"]["code"] == -32600
    assert any(tool["name"] == "runs_get" for tool in replies[2]["result"]["tools"])


CLAIMING = """
import os, anyio
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCResponse
from runbridge.server.stdio import stdio_streams

async def main():
    async with stdio_streams() as (read_stream, write_stream):
        os.write(1, b"stray output\\n")  # a library or a child writing to fd 1 while serving
        assert os.read(0, 100) == b"", "fd 0 reads the null device while serving"
        async for item in read_stream:
            answer = JSONRPCResponse(jsonrpc="2.0", id=item.message.id, result={})
            await write_stream.send(SessionMessage(answer))
    os.write(1, b"fd 1 is back\\n")

anyio.run(main)
"""


def test_while_serving_fd_0_reads_nothing_and_fd_1_writes_to_stderr_and_both_are_given_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CLAIMING], input=FRAMES[0] + b"\n", capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().splitlines() == ['{"jsonrpc":"2.0","id":7,"result":{}}', "fd 1 is back"]
    assert "stray output" in done.stderr.decode()
