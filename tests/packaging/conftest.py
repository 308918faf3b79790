"""Packaging fixtures: the wheel and sdist built once per test process with `uv build`, the official Node tools
(tests/hosts, installed by `npm ci --prefix tests/hosts`: the mcpb CLI, the MCP Inspector and the Node.js 22 it
needs), and the sandbox on loopback."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging_tools import ROOT, uv

from runbridge.sandbox import SandboxServer


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


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", api_key="sk-rbx-Packaging2Vb7Secret") as server:
        yield server
