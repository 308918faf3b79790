"""A connection the client resets after its answer lets go of everything it held: uvicorn, as `runbridge serve
--http` configures it, cancels the connection's keep-alive timer however the connection ends, so the event loop no
longer keeps the protocol, its transport and its last request for the keep-alive window (75 s)."""

from __future__ import annotations

import gc
import socket
import struct
from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest
import uvicorn
from tests.ports import free_port
from uvicorn.protocols.http.h11_impl import H11Protocol

from runbridge.cli.serve import KEEP_ALIVE_SECONDS, uvicorn_config

pytestmark = pytest.mark.anyio

CLIENTS = 5


async def _hello(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _get_then_reset(port: int) -> bytes:
    """One keep-alive request, its answer read, then the connection reset (SO_LINGER 0: RST, not FIN), as a client
    or a load balancer drops a pooled connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while not answer.endswith(b"ok"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return answer


def _live_connections(server: uvicorn.Server) -> int:
    """This server's HTTP/1.1 protocol objects still alive, their connections gone or not (other tests in the same
    worker may have left protocols of their own servers to the garbage collector)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, H11Protocol) and o.server_state is server.server_state)


async def test_connections_reset_after_their_answer_are_let_go_at_once() -> None:
    port = free_port("127.0.0.1")
    config = uvicorn_config(_hello, host="127.0.0.1", port=port)
    assert config.timeout_keep_alive == KEEP_ALIVE_SECONDS
    server = uvicorn.Server(config)
    left = -1
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the test runner's, not uvicorn's
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.02)  # polls a condition, bounded by fail_after
        for _ in range(CLIENTS):
            answer = await anyio.to_thread.run_sync(_get_then_reset, port)
            assert answer.startswith(b"HTTP/1.1 200"), answer
        with anyio.fail_after(10):
            while server.server_state.connections:
                await anyio.sleep(0.02)  # polls a condition, bounded by fail_after
        await anyio.sleep(0.1)  # lets every connection_lost callback run
        left = _live_connections(server)
        server.should_exit = True
    assert server.server_state.total_requests == CLIENTS
    assert left == 0, f"{left} of {CLIENTS} connections reset are still held (by their keep-alive timers)"
