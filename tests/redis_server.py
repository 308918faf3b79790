"""A real `redis-server` for the tests: started on a free loopback port in a temporary folder (one per xdist worker,
or per test that restarts it), stopped afterwards.

Where this machine has no `redis-server`, the tests that need one skip with one line saying so; under
`RUNBRIDGE_REAL_REQUIRED=1` (CI, where `.ci/run` installs it) they fail instead, unless `.ci/run` said why this
machine cannot have one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ports import free_port

__all__ = ["RedisServer", "redis_server_or_skip"]


class RedisServer:
    """One `redis-server` process on 127.0.0.1:`port`, its files in `folder`; `appendonly` turns on AOF
    persistence (every write fsynced), so a restart keeps everything written."""

    def __init__(self, binary: str, folder: Path, *, appendonly: bool = False) -> None:
        self.binary = binary
        self.folder = folder
        self.appendonly = appendonly
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--save", ""]
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        command += ["--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning", *persistence]
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115  (kept open for the server's life)
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start: {(self.folder / 'redis.log').read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)  # polls for the server to listen, bounded by the deadline
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def stop(self, *, kill: bool = False) -> None:
        """Stop it: SIGTERM (Redis finishes its writes), or SIGKILL with `kill`."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def redis_server_or_skip() -> str:
    """The path of `redis-server`; skips the test when there is none, with the reason `.ci/run` found
    ($RUNBRIDGE_REDIS_UNAVAILABLE), and fails it under RUNBRIDGE_REAL_REQUIRED=1 when no reason was given."""
    binary = os.environ.get("RUNBRIDGE_REDIS_SERVER") or shutil.which("redis-server")
    if binary:
        return binary
    why = os.environ.get("RUNBRIDGE_REDIS_UNAVAILABLE")
    if os.environ.get("RUNBRIDGE_REAL_REQUIRED") == "1" and not why:
        pytest.fail("redis-server is not installed; .ci/run installs it (apt-get install redis-server)", pytrace=False)
    pytest.skip(why or "redis-server is not installed (apt-get install redis-server)")
