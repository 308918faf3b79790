"""The LangGraph Agent Server (`langgraph dev`, in-memory) the real tier runs the langgraph family against: the
graphs of `langgraph_project/` (no model needed), the server's own custom auth (a key as `x-api-key` or bearer),
started on a free loopback port and stopped with its process group.

`langgraph dev` moves silently to another port when the one asked for is taken, so the port it really serves is
read from the `API:` line of its log, never assumed. The dev server runs every graph in its own event loop (a node
that blocks would stall every run) and keeps threads, runs and resumable streams in memory."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from real_backends import Unavailable, free_port, venv

PROJECT = Path(__file__).parent / "langgraph_project"
# Pinned: the CLI and the server packages it pulls in (`[inmem]`), so a new release changes nothing here unseen.
REQUIREMENTS = [
    "langgraph-cli[inmem]==0.4.40",
    "langgraph-api==0.16.7",
    "langgraph-runtime-inmem==0.36.7",
    "langgraph==1.2.24",
]
KEY_ENV = "RUNBRIDGE_LG_KEY"  # read by langgraph_project/auth.py
_API_LINE = re.compile(r"API:\s*(?:\x1b\[[0-9;]*m)*\s*(http://[0-9.]+:(\d+))")


def python() -> Path:
    """The virtual environment holding the pinned server (installed once, cached; see real_backends.venv)."""
    return venv("langgraph", REQUIREMENTS)


class LangGraphServer:
    """`langgraph dev` on a copy of the test project; `.base_url` once started, `.key` the key it accepts."""

    def __init__(self, workdir: Path, *, jobs: int = 16) -> None:
        self.workdir = workdir
        self.key = "lg-" + secrets.token_hex(12)
        self.jobs = jobs
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="runbridge-real-langgraph-", suffix=".log")[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, within: float = 90) -> LangGraphServer:
        binary = python().parent / "langgraph"
        project = self.workdir / "project"
        if not project.exists():
            shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", ".langgraph_api"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "OTEL_"))}
        env.update({KEY_ENV: self.key, "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"})
        asked = free_port()
        command = [str(binary), "dev", "--host", "127.0.0.1", "--port", str(asked), "--no-browser", "--no-reload"]
        command += ["--n-jobs-per-worker", str(self.jobs)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=project,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(within)
        return self

    def _wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise Unavailable(f"langgraph dev exited with {self.process.returncode} while starting: {self.tail()}")
            if not self.port and (found := _API_LINE.search(self.log.read_text(errors="replace"))):
                self.port = int(found.group(2))
            if self.port:
                try:
                    with urllib.request.urlopen(self.base_url + "/ok", timeout=2):  # noqa: S310 (loopback URL)
                        return
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.2)  # polls a starting server, bounded by the deadline
        self.stop()
        raise Unavailable(f"langgraph dev did not start within {within:.0f} s: {self.tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # nothing of the group is left behind

    def tail(self, lines: int = 15) -> str:
        try:
            text = re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    # -- the server's own word, for the tests to check runbridge against --------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> Any:
        import json

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (loopback URL)
            self.base_url + path,
            data=data,
            method=method,
            headers={"x-api-key": self.key, "content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw else None

    def thread(self, thread_id: str) -> dict[str, Any]:
        return self.call("GET", f"/threads/{thread_id}")

    def runs(self, thread_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/threads/{thread_id}/runs?limit=100")
