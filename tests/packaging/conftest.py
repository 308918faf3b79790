"""Packaging fixtures: the wheel and sdist built once per test process with `uv build`, the official Node tools
(tests/hosts, installed by `npm ci --prefix tests/hosts`: the mcpb CLI, the MCP Inspector and the Node.js 22 it
needs), and the sandbox on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbridge.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ROOT / "tests" / "hosts"
BIN = Path(sys.executable).parent  # the dev virtualenv's scripts: uv and uvx come with the dev extras


def uv() -> str:
    found = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: it comes with the dev extras (pip install -e '.[dev]')")
    return found


def with_uv_on_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with the directory of uv first on PATH (a bundle's command is a bare `uv`)."""
    return {**env, "PATH": os.pathsep.join([str(Path(uv()).parent), env.get("PATH", "")])}


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from it, as a release makes them."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [uv(), "build", "--sdist", "--wheel", "--out-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("runbridge-*.whl")
    return found


def node_tool(*parts: str) -> Path:
    """A file of tests/hosts/node_modules. Missing, the test skips saying how to install it, except under `.ci/run`
    (RUNBRIDGE_REAL_REQUIRED=1), which installs them: there it fails."""
    path = HOSTS.joinpath("node_modules", *parts)
    if not path.exists():
        why = f"{path.relative_to(ROOT)} is missing: run `npm ci --prefix tests/hosts` (.ci/run does)"
        if os.environ.get("RUNBRIDGE_REAL_REQUIRED") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", api_key="sk-rbx-Packaging2Vb7Secret") as server:
        yield server
