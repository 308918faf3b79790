"""The `mcp` SDK's private attributes runbridge relies on: each still there in the installed SDK (a test that names
the one that disappeared), all of them in `runbridge.server.sdk_private` and nowhere else, and the SDK pinned to the
minor line they were checked against."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from packaging.requirements import Requirement
from packaging.version import Version

from runbridge.server import sdk_private

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "runbridge"
HOOKS_MODULE = SRC / "server" / "sdk_private.py"
INSTALLED = version("mcp")


def _lowlevel_server() -> None:
    assert isinstance(sdk_private.lowlevel_server(MCPServer("probe")), Server)


def _session_connection() -> None:
    send, receive = anyio.create_memory_object_stream[Any](1)
    with send, receive:
        connection = Connection(send, protocol_version="2025-11-25")  # type: ignore[arg-type]  (never used to send)
        session = ServerSession(object(), connection)  # type: ignore[arg-type]  (never used to send)
        assert sdk_private.connection_of(session) is connection


PROBES: dict[str, Callable[[], None]] = {
    "MCPServer._lowlevel_server": _lowlevel_server,
    "ServerSession._connection": _session_connection,
}


def test_every_private_hook_has_a_probe() -> None:
    assert set(PROBES) == set(sdk_private.HOOKS)


@pytest.mark.parametrize("symbol", sorted(sdk_private.HOOKS))
def test_the_installed_sdk_still_has_the_private_hook(symbol: str) -> None:
    try:
        PROBES[symbol]()
    except (AttributeError, AssertionError, TypeError) as exc:
        pytest.fail(
            f"mcp {INSTALLED} no longer offers {symbol}, which runbridge.server.sdk_private uses for "
            f"{sdk_private.HOOKS[symbol]} ({exc.__class__.__name__}: {exc}). Find the SDK's new way and change "
            "that module (only it), then the mcp pin in pyproject.toml."
        )


def _private_sdk_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] in ("mcp", "mcp_types") and any(p.startswith("_") and not p.startswith("__") for p in parts):
                found.append(name)
    return found


def test_only_the_hooks_module_touches_the_sdks_private_parts() -> None:
    offenders: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        if path == HOOKS_MODULE or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(ROOT)
        offenders += [f"{rel}: imports {name}" for name in _private_sdk_imports(path)]
        text = path.read_text(encoding="utf-8")
        if "reportPrivateUsage" in text:
            offenders.append(f"{rel}: silences reportPrivateUsage")
    assert not offenders, "private SDK use outside runbridge/server/sdk_private.py:\n" + "\n".join(offenders)


def test_pyright_reports_private_use() -> None:
    pyright = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pyright"]
    assert pyright.get("reportPrivateUsage") is True


def test_the_sdk_is_pinned_to_the_minor_line_the_hooks_were_checked_against() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = [Requirement(r) for r in project["dependencies"] if re.match(r"mcp\b(?![-_])", r)]
    assert len(pinned) == 1, pinned
    spec = pinned[0].specifier
    installed = Version(INSTALLED)
    assert spec.contains(installed), f"mcp {installed} is installed, outside the pin {spec}"
    next_minor = Version(f"{installed.major}.{installed.minor + 1}.0")
    assert not spec.contains(next_minor), f"the pin {spec} lets mcp {next_minor} in, whose private parts are unchecked"
