"""runbridge's state is the user's alone: `runbridge serve` (a subprocess over stdio, driven by the official client)
creates its state directory 0700 and the database, its WAL and shared-memory files and the request-state key 0600,
whatever the umask; and it refuses to start with a key file other users can open, saying how to fix it."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from transport_harness import KEY_ENV, RUNBRIDGE, SECRET, run_cli, structured, write_config

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """What many systems default to: new files readable by everyone (the child inherits it)."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _with_state(config: Path, state: Path) -> Path:
    text = config.read_text(encoding="utf-8").replace('state_path = ":memory:"', f'state_path = "{state}"')
    config.write_text(text, encoding="utf-8")
    return config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_serve_creates_a_fresh_state_directory_and_its_files_private(
    sandbox: SandboxServer, tmp_path: Path, loose_umask: None
) -> None:
    state_dir = tmp_path / "fresh" / "runbridge"
    config = _with_state(write_config(tmp_path / "runbridge.toml", sandbox.base_url), state_dir / "state.db")
    params = StdioServerParameters(
        command=sys.executable, args=[*RUNBRIDGE[1:], "serve", "--config", str(config)], env={KEY_ENV: SECRET}
    )
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        with anyio.fail_after(40):
            async with Client(stdio_client(params, errlog=errlog)) as client:
                started = structured(await client.call_tool("runs_start", {"target_id": "quick-demo"}))
                assert started["status"] == "completed", started
                # While it serves: the WAL and shared-memory files exist (SQLite removes them at the last close).
                modes = {p.name: _mode(p) for p in state_dir.iterdir()}
                directory = _mode(state_dir)
        errlog.seek(0)
        assert "Traceback" not in errlog.read()
    assert directory == 0o700
    assert modes == {name: 0o600 for name in ("state.db", "state.db-wal", "state.db-shm", "request-state.key")}
    assert _mode(tmp_path / "fresh") == 0o755, "only the state directory itself is runbridge's to make private"


async def test_serve_refuses_a_key_file_other_users_can_read_and_says_how_to_fix_it(
    sandbox: SandboxServer, tmp_path: Path, loose_umask: None
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)
    key_file = state_dir / "request-state.key"
    key_file.write_text("k" * 64, encoding="utf-8")
    key_file.chmod(0o644)
    config = _with_state(write_config(tmp_path / "runbridge.toml", sandbox.base_url), state_dir / "state.db")
    env = {k: v for k, v in os.environ.items() if k != "RUNBRIDGE_STATE_KEY"}
    done = run_cli("serve", "--config", str(config), env={**env, KEY_ENV: SECRET})
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert f"{key_file} can be opened by other users (mode 644)" in done.stderr
    assert f"run `chmod 600 {key_file}`" in done.stderr
    assert "k" * 20 not in done.stderr, "the key itself is never shown"
    key_file.chmod(0o600)  # fixed as the message says: runbridge serves, with the same key
    params = StdioServerParameters(
        command=sys.executable, args=[*RUNBRIDGE[1:], "serve", "--config", str(config)], env={KEY_ENV: SECRET}
    )
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog, anyio.fail_after(40):
        async with Client(stdio_client(params, errlog=errlog)) as client:
            assert (await client.list_tools()).tools
    assert key_file.read_text(encoding="utf-8") == "k" * 64
