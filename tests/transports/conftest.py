"""Transport fixtures: the sandbox on loopback, a runbridge.toml pointing at it, the environment a runbridge
subprocess gets, and runbridge's streamable-HTTP app served by uvicorn on an ephemeral loopback port."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from transport_harness import KEY_ENV, SECRET, WORKFLOWS, write_config

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", api_key=SECRET, keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, sandbox.api_key)
    profile = Profile(
        name="sandbox", family="openwop", base_url=sandbox.base_url, api_key_env=KEY_ENV, workflows=WORKFLOWS
    )
    return Settings(profiles={"sandbox": profile}, state_path=":memory:", wait_seconds=15, progress_interval_seconds=0)


@pytest.fixture
def config_file(sandbox: SandboxServer, tmp_path: Path) -> Path:
    return write_config(tmp_path / "runbridge.toml", sandbox.base_url)


@pytest.fixture
def child_env(sandbox: SandboxServer, config_file: Path) -> dict[str, str]:
    """The environment of a runbridge subprocess: this one less PYTHONUNBUFFERED (what a piped stdout shows must
    not depend on it), plus the config path and the sandbox key."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update({"RUNBRIDGE_CONFIG": str(config_file), KEY_ENV: sandbox.api_key})
    return env


class _Uvicorn(uvicorn.Server):
    """Tells the test when it serves, instead of the test polling for it."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@pytest.fixture
def serve_http() -> Iterator[Callable[[Any], str]]:
    """`serve_http(asgi_app)` serves the app on 127.0.0.1 (ephemeral port) in a thread until the test ends, and
    returns its MCP endpoint URL."""
    running: list[tuple[_Uvicorn, threading.Thread, socket.socket]] = []

    def serve(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        server = _Uvicorn(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="runbridge-http", daemon=True)
        thread.start()
        running.append((server, thread, sock))
        if not server.ready.wait(10):
            raise RuntimeError("the runbridge HTTP app did not start within 10 s")
        return f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"

    yield serve
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive(), "the HTTP server did not stop"
