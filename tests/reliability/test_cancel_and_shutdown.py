"""Cancellation and shutdown as a system: the official MCP client → runbridge → a sandbox on 127.0.0.1 whose runs
take a few seconds, watched through their event streams (the sandbox counts the streams open at any moment).

* The client cancelling a tool call stops the watching at once (the backend's events connection closes within a
  second) and leaves the run alone; only `runs_cancel` cancels it. Synapse v1 is the exception by design: its POST
  stream is the only copy of the run's events, so runbridge keeps reading it, and a later `runs_watch` gets the rest.
* A `runbridge serve` process stopped while it watches a run (SIGTERM, SIGINT, or stdin closed; also `serve --http`)
  saves the watch's cursor, closes every backend connection and exits within 2 s, with no stack trace on stderr.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

import anyio
import pytest
from faults_harness import (
    MakeSandbox,
    assert_curated_error,
    closed_port,
    connect,
    is_running,
    listed_events,
    profile_for,
    serve_command,
    settings_for,
    structured,
    until,
    wait_for_port,
    write_config,
)
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult

from runbridge.sandbox import DEFAULT_API_KEY, SandboxServer
from runbridge.state import SqliteStore

pytestmark = pytest.mark.anyio

SPEED = 5.0  # long-demo takes 55 x 0.2 s / 5 = 2.2 s: long enough to be mid-run when the call or server stops
STOPPED_WITHIN = 2.0
ERAS = ["legacy", "auto"]
FAMILIES = {
    "openwop": ("openwop", None, {}),
    "orchestrations-v2": ("orchestrations", "scale", {"options": {"api_versions": ["v1", "v2"]}}),
    "orchagent": ("orchagent", None, {}),
}


def _open_streams(sandbox: SandboxServer) -> int:
    return int(sandbox.stats()["open_streams"])


async def _idle_sandbox(make_sandbox: MakeSandbox, family: str, **options: Any) -> SandboxServer:
    """A slow sandbox with no event stream open: the one an earlier test closed last may still be winding down."""
    sandbox = make_sandbox(family, speed=SPEED, **options)
    await until(lambda: _open_streams(sandbox) == 0, within=2.0)
    return sandbox


def _status(sandbox: SandboxServer, run_id: str) -> str:
    """The run's status as the sandbox's engine has it (Synapse run ids are the wire's own)."""

    def read() -> str:
        for run in sandbox.engine.runs():
            if run_id in (run.id, run.meta.get("synapse_run_id")):
                return str(run.status)
        raise AssertionError(f"no run {run_id} on the sandbox")

    return sandbox.call(read)


async def _start_args(client: Client, family: str) -> dict[str, Any]:
    if family != "orchagent":
        return {"target_id": "long-demo", "message": "go"}
    thread = structured(await client.call_tool("threads_create", {"spec": {"workflow": "long-demo"}}))
    return {"target_id": thread["thread_id"], "message": "go"}


class Watch:
    """A tool call running in the background: `cancel()` it as a client does when its user gives up on it; `ended`
    is set once it returned (`result`) or failed (`error`)."""

    def __init__(self, cancel: Callable[[], None]) -> None:
        self.cancel = cancel
        self.ended = anyio.Event()
        self.error: Exception | None = None
        self.result: CallToolResult | None = None

    def stopped_by_the_server(self) -> bool:
        """The call was ended by its server stopping: the transport went away, or the answer says runbridge is
        stopping (the graceful stop answers the calls in progress)."""
        if self.error is not None:
            return True
        return self.result is not None and self.result.is_error and "runbridge is stopping" in str(self.result.content)


@asynccontextmanager
async def _watching(client: Client, tool: str, args: dict[str, Any]) -> AsyncIterator[Watch]:
    """Call `tool` in the background; yield once its first progress arrived (the run is being watched)."""
    watching = anyio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        watching.set()

    async with anyio.create_task_group() as tg:
        watch = Watch(tg.cancel_scope.cancel)

        async def call() -> None:
            try:
                watch.result = await client.call_tool(tool, args, progress_callback=on_progress)
            except Exception as exc:  # the server went away under the call: what the shutdown tests expect
                watch.error = exc
            finally:
                watch.ended.set()

        tg.start_soon(call)
        with anyio.fail_after(15):
            await watching.wait()
        yield watch


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("case", sorted(FAMILIES))
async def test_cancelling_a_call_closes_its_backend_stream_within_a_second_and_only_runs_cancel_stops_the_run(
    case: str, mode: str, make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    family, variant, extra = FAMILIES[case]
    sandbox = await _idle_sandbox(make_sandbox, family, variant=variant)
    async with connect(settings_for(profile_for(family, sandbox, sandbox_key_env, **extra)), mode=mode) as client:
        async with _watching(client, "runs_start", await _start_args(client, family)) as watch:
            assert _open_streams(sandbox) == 1
            watch.cancel()
        closed_after = await until(lambda: _open_streams(sandbox) == 0, within=1.0)
        runs = structured(await client.call_tool("runs_list", {}))["runs"]
        run_id = runs[0]["run_id"]
        assert _status(sandbox, run_id) == "running", "cancelling the call must not touch the run"
        assert sandbox.stats()["cancels"] == 0
        cancelled = await client.call_tool("runs_cancel", {"run_id": run_id})
    assert closed_after < 1.0
    if family == "orchagent":  # the server has no way to cancel a run: the tool says so
        assert "no way to cancel" in assert_curated_error(cancelled, DEFAULT_API_KEY)
        return
    assert structured(cancelled)["run_id"] == run_id
    assert sandbox.stats()["cancels"] == 1
    await until(lambda: _status(sandbox, run_id) == "cancelled", within=2.0)


async def test_a_synapse_v1_stream_outlives_a_cancelled_call_and_runs_watch_gets_the_rest(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = await _idle_sandbox(make_sandbox, "orchestrations")
    async with connect(settings_for(profile_for("orchestrations", sandbox, sandbox_key_env))) as client:
        async with _watching(client, "runs_start", {"target_id": "long-demo", "message": "go"}) as watch:
            watch.cancel()
        run_id = structured(await client.call_tool("runs_list", {}))["runs"][0]["run_id"]
        assert _open_streams(sandbox) == 1, "the v1 stream is the run's only record: it is still read"
        with anyio.fail_after(15):
            report = structured(await client.call_tool("runs_watch", {"run_id": run_id}))
        events = await listed_events(client, run_id)
    assert report["status"] == "completed"
    assert [int(seq) for seq, _ in events] == list(range(1, len(events) + 1)), "every event once, in order"
    assert events[-1][1] == "orchestration_complete"
    assert _open_streams(sandbox) == 0


async def test_a_watch_cancelled_mid_run_saved_its_cursor_and_runs_watch_delivers_exactly_the_rest(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = await _idle_sandbox(make_sandbox, "openwop")
    async with connect(settings_for(profile_for("openwop", sandbox, sandbox_key_env)), mode="legacy") as client:
        async with _watching(client, "runs_start", {"target_id": "long-demo"}) as watch:
            watch.cancel()
        run_id = structured(await client.call_tool("runs_list", {}))["runs"][0]["run_id"]
        saved = structured(await client.call_tool("runs_get", {"run_id": run_id}))["cursor"]
        with anyio.fail_after(15):
            rest = structured(await client.call_tool("runs_watch", {"run_id": run_id}))
    emitted = sandbox.context.stats.emitted_events(run_id)
    assert saved is not None, "the cancelled call did not save where it was"
    assert rest["status"] == "completed"
    assert rest["events_seen"] == len(emitted) - (int(saved) + 1), "runs_watch repeated or skipped events"
    assert rest["cursor"] == emitted[-1][0]


def _config(tmp_path: Path, sandbox: SandboxServer, key_env: str) -> Path:
    """runbridge.toml for one profile on `sandbox`, with its run registry in a file (`tmp_path/state.db`)."""
    profile = profile_for("openwop", sandbox, key_env)
    state = str(tmp_path / "state.db")
    return write_config(tmp_path / "runbridge.toml", profile, state_path=state, wait_seconds=30)


async def _saved_cursor(tmp_path: Path) -> str | None:
    """The cursor runbridge saved for the one run it watched (read after it stopped)."""
    store = SqliteStore(tmp_path / "state.db")
    try:
        (run,) = (await store.list_runs("rel")).items
        return run.cursor
    finally:
        await store.aclose()


def _crashes_in_runbridge(log: Path) -> list[str]:
    """Traceback lines through runbridge's own code in a server's stderr (the SDK's and uvicorn's own notes about
    the calls they cancelled are theirs)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if line.strip().startswith('File "') and f"{os.sep}runbridge{os.sep}" in line]


def _stdio_params(
    tmp_path: Path, sandbox: SandboxServer, key_env: str, *, status_file: Path | None = None
) -> tuple[StdioServerParameters, Path]:
    config = _config(tmp_path, sandbox, key_env)
    pid_file = tmp_path / "runbridge.pid"
    command = serve_command(pid_file, "--config", str(config), status_file=status_file)
    env = {"PATH": os.environ.get("PATH", ""), key_env: DEFAULT_API_KEY}
    return StdioServerParameters(command=command[0], args=command[1:], env=env), pid_file


async def _signal_a_stdio_server_mid_watch(
    signum: int, mode: str, make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = await _idle_sandbox(make_sandbox, "openwop")
    status = tmp_path / "exit-status"
    params, pid_file = _stdio_params(tmp_path, sandbox, sandbox_key_env, status_file=status)
    with open(tmp_path / "stderr.txt", "w") as errlog, anyio.fail_after(30):
        async with (
            Client(stdio_client(params, errlog=errlog), mode=mode) as client,
            _watching(client, "runs_start", {"target_id": "long-demo"}) as watch,
        ):
            assert _open_streams(sandbox) == 1
            pid = int(pid_file.read_text())
            os.kill(pid, signum)
            stopped = await until(lambda: not is_running(pid), within=STOPPED_WITHIN)
            await watch.ended.wait()
            await until(status.exists, within=2.0)
    assert stopped < STOPPED_WITHIN
    assert int(status.read_text()) == -signum, "it ends by the signal it got, after stopping gracefully"
    assert watch.stopped_by_the_server(), "the call cannot have succeeded: its server was stopped"
    await until(lambda: _open_streams(sandbox) == 0, within=1.0)
    assert await _saved_cursor(tmp_path) is not None, "the watch did not save where it was before the server stopped"
    stderr = (tmp_path / "stderr.txt").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ERAS)
async def test_sigterm_stops_a_stdio_server_mid_watch_within_two_seconds_with_every_backend_connection_closed(
    mode: str, make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    await _signal_a_stdio_server_mid_watch(signal.SIGTERM, mode, make_sandbox, sandbox_key_env, tmp_path)


@pytest.mark.slow
async def test_sigint_stops_a_stdio_server_mid_watch_the_same_graceful_way(
    make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    await _signal_a_stdio_server_mid_watch(signal.SIGINT, "auto", make_sandbox, sandbox_key_env, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ERAS)
async def test_closing_stdin_stops_a_stdio_server_mid_watch_within_two_seconds_with_every_backend_connection_closed(
    mode: str, make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = await _idle_sandbox(make_sandbox, "openwop")
    params, pid_file = _stdio_params(tmp_path, sandbox, sandbox_key_env)
    with open(tmp_path / "stderr.txt", "w") as errlog, anyio.fail_after(30):
        with anyio.CancelScope() as scope:
            async with (
                Client(stdio_client(params, errlog=errlog), mode=mode) as client,
                _watching(client, "runs_start", {"target_id": "long-demo"}),
            ):
                assert _open_streams(sandbox) == 1
                pid = int(pid_file.read_text())
                closing = anyio.current_time()
                scope.cancel()  # leaving the client closes the server's stdin; it kills it only after 2 s
        stopped = anyio.current_time() - closing
    assert scope.cancelled_caught
    assert not is_running(pid)
    assert stopped < STOPPED_WITHIN, "the server did not exit by itself when its stdin closed"
    await until(lambda: _open_streams(sandbox) == 0, within=1.0)
    assert await _saved_cursor(tmp_path) is not None, "the watch did not save where it was before the server stopped"
    assert _crashes_in_runbridge(tmp_path / "stderr.txt") == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ERAS)
async def test_sigterm_stops_an_http_server_mid_watch_within_two_seconds_with_every_backend_connection_closed(
    mode: str, make_sandbox: MakeSandbox, sandbox_key_env: str, tmp_path: Path
) -> None:
    sandbox = await _idle_sandbox(make_sandbox, "openwop")
    config = _config(tmp_path, sandbox, sandbox_key_env)
    port = closed_port()  # free now; runbridge binds it
    command = [sys.executable, "-m", "runbridge", "serve", "--http", "--port", str(port), "--config", str(config)]
    env = {**os.environ, sandbox_key_env: DEFAULT_API_KEY}
    with open(tmp_path / "stderr.txt", "w") as errlog:
        process = await anyio.open_process(command, env=env, stdout=DEVNULL, stderr=errlog)
    async with process:
        await wait_for_port(port)
        with anyio.fail_after(30):
            async with (
                Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client,
                _watching(client, "runs_start", {"target_id": "long-demo"}) as watch,
            ):
                assert _open_streams(sandbox) == 1
                process.send_signal(signal.SIGTERM)
                started = anyio.current_time()
                with anyio.fail_after(STOPPED_WITHIN):
                    await process.wait()
                stopped = anyio.current_time() - started
                await watch.ended.wait()
    assert stopped < STOPPED_WITHIN
    assert process.returncode == -signal.SIGTERM, "it ends by the signal it got, after stopping gracefully"
    assert watch.stopped_by_the_server(), "the call cannot have succeeded: its server was stopped"
    await until(lambda: _open_streams(sandbox) == 0, within=1.0)
    assert await _saved_cursor(tmp_path) is not None, "the watch did not save where it was before the server stopped"
    assert _crashes_in_runbridge(tmp_path / "stderr.txt") == []
    stderr = (tmp_path / "stderr.txt").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr
