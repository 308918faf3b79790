"""The README's MCP Inspector section, run as written: every `npx @modelcontextprotocol/inspector --cli` line (the
Inspector 2.x pinned in tests/hosts, on the Node.js 22 installed beside it) against runbridge over stdio, and over
streamable HTTP after the section's `runbridge serve --http` line, with the paths, key and port of this test."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging_tools import ROOT, node, node_tool
from tests.ports import free_port

from runbridge.sandbox import SandboxServer

pytestmark = [pytest.mark.node, pytest.mark.slow]

NPX = ["npx", "@modelcontextprotocol/inspector"]


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^## Debugging with the MCP Inspector\n(.*?)^## ", text, re.S | re.M)
    assert found, "README.md lost its section 'Debugging with the MCP Inspector'"
    return found.group(1)


def _lines() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", _section(), re.S)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line.strip()]


@pytest.fixture
def setup(tmp_path: Path, sandbox: SandboxServer) -> dict[str, str]:
    config = tmp_path / "runbridge.toml"
    config.write_text(
        '[server]\nstate_path = ":memory:"\n\n[profiles.sandbox]\nfamily = "openwop"\n'
        f'base_url = "{sandbox.base_url}"\napi_key_env = "OPENWOP_API_KEY"\nworkflows = ["approval-demo"]\n',
        encoding="utf-8",
    )
    return {
        "/path/to/runbridge.toml": str(config),
        "/path/to/.venv/bin/runbridge": str(Path(sys.executable).with_name("runbridge")),
        "…": sandbox.api_key,
        "8765": str(free_port()),
    }


def _filled(words: list[str], values: dict[str, str]) -> list[str]:
    out = []
    for word in words:
        for placeholder, value in values.items():
            word = word.replace(placeholder, value)
        out.append(word)
    return out


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENWOP_", "ORCHAGENT_", "RUNBRIDGE_"))}
    # The Inspector finds `node` on PATH for what it starts; it keeps its catalog under HOME.
    return {**env, "PATH": os.pathsep.join([str(node().parent), env["PATH"]]), "HOME": str(home)}


def _inspect(words: list[str], env: dict[str, str], cwd: Path) -> dict[str, object]:
    assert words[:3] == [*NPX, "--cli"], words
    launcher = node_tool("@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js")
    done = subprocess.run(
        [str(node()), str(launcher), *words[2:]], capture_output=True, text=True, timeout=120, env=env, cwd=cwd
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def _check(words: list[str], answer: dict[str, object]) -> None:
    method = words[words.index("--method") + 1]
    if method == "tools/list":
        names = {tool["name"] for tool in answer["tools"]}  # type: ignore[union-attr]
        assert {"runs_start", "runs_watch", "gates_respond", "targets_list"} <= names
    elif method == "tools/call":
        assert answer.get("isError") is not True, answer
        structured = answer["structuredContent"]
        assert [t["id"] for t in structured["targets"]] == ["approval-demo"]  # type: ignore[index]
    else:
        raise AssertionError(f"the test has no check for {method}: add one")


def _wait_for_port(port: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_the_section_names_the_environment_and_both_transports() -> None:
    lines = _lines()
    assert lines[0][:2] == NPX
    assert "RUNBRIDGE_CONFIG=/path/to/runbridge.toml" in lines[0]
    assert any(words[2] == "--cli" and words[3].startswith("http://") for words in lines if words[:2] == NPX)
    assert any("--http" in words for words in lines if words[:2] != NPX)


def test_the_inspector_cli_lines_work_over_stdio(setup: dict[str, str], tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    stdio = [w for w in _lines() if w[:3] == [*NPX, "--cli"] and not w[3].startswith("http")]
    assert len(stdio) >= 2
    for words in stdio:
        answer = _inspect(_filled(words, setup), env, tmp_path)
        _check(words, answer)
        assert setup["…"] not in json.dumps(answer)


def test_the_inspector_cli_lines_work_over_http(setup: dict[str, str], tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    (serve,) = [w for w in _lines() if w[:2] != NPX]
    assignments = [w for w in serve if re.fullmatch(r"[A-Z_]+=.*", w)]
    command = _filled(serve[len(assignments) :], setup)
    assert command[0] == "runbridge"
    server_env = {**env, **dict(a.split("=", 1) for a in _filled(assignments, setup))}
    server = subprocess.Popen(
        [sys.executable, "-m", "runbridge", *command[1:]],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()  # it says its address on stderr once it listens
        assert f"127.0.0.1:{setup['8765']}/mcp" in first, first
        _wait_for_port(int(setup["8765"]))  # it says so as it starts listening
        over_http = [w for w in _lines() if w[:3] == [*NPX, "--cli"] and w[3].startswith("http")]
        assert over_http
        for words in over_http:
            _check(words, _inspect(_filled(words, setup), env, tmp_path))
    finally:
        server.terminate()
        server.communicate(timeout=30)  # reads what is left and closes the pipe
