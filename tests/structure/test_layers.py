"""The layering of docs/architecture.md, enforced: imports point one way, and no module grows past its budget."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "runbridge"
MAX_LINES = 400

# package -> runbridge packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "http": {"core"},
    "state": {"core"},
    "backends": {"core", "http"},
    "bridge": {"core", "state", "backends"},
    "tools": {"core", "state", "bridge"},
    "server": {"core", "state", "backends", "bridge", "tools"},
    "cli": {"core", "http", "state", "backends", "bridge", "tools", "server", "sandbox"},
    "sandbox": set(),
}
# third-party packages a layer must not touch
FORBIDDEN: dict[str, set[str]] = {
    "core": {"mcp", "mcp_types", "httpx2", "starlette", "uvicorn"},
    "state": {"mcp", "mcp_types", "httpx2"},
    "http": {"mcp", "mcp_types"},
    "backends": {"mcp", "mcp_types"},
    "bridge": {"httpx2"},
    "tools": {"httpx2"},
    "server": {"httpx2"},
    "sandbox": {"mcp", "mcp_types"},
}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _layer(path: Path) -> str | None:
    rel = path.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else None


def _imports(path: Path) -> set[str]:
    """Absolute names of everything a module imports, with relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["runbridge", *path.relative_to(SRC).parts[:-1]]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_each_module_imports_only_the_layers_below_it(path: Path) -> None:
    layer = _layer(path)
    if layer is None:
        return
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "runbridge" and len(parts) > 1 and parts[1] in ALLOWED and parts[1] != layer:
            assert parts[1] in ALLOWED[layer], f"{layer} must not import runbridge.{parts[1]} ({name})"
        assert parts[0] not in FORBIDDEN.get(layer, set()), f"{layer} must not import {parts[0]}"
        assert parts[0] != "asyncio", "runbridge is anyio-only"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_exceeds_the_size_budget(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines; split it (budget {MAX_LINES})"


def test_the_layer_table_covers_every_package() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), f"add {sorted(packages - set(ALLOWED))} to the layer table"


FAMILIES_DIR = SRC / "backends"
# Modules every part of the server builds on, which must not reach back to the whole server object (`bridge.app`):
# the App's parts, and what one call's watch knows of its run.
WITHOUT_APP = (
    "bridge/adapters.py",
    "bridge/calls.py",
    "bridge/sightings.py",
    "bridge/following.py",
    "bridge/asking.py",
)


@pytest.mark.parametrize("path", sorted(FAMILIES_DIR.glob("_*.py")), ids=lambda p: p.name)
def test_what_the_backend_families_share_imports_no_family(path: Path) -> None:
    families = {p.name for p in FAMILIES_DIR.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    for name in _imports(path):
        parts = name.split(".")
        assert parts[:2] != ["runbridge", "backends"] or len(parts) < 3 or parts[2] not in families, (
            f"{path.name} is shared by every family: it must not import {name}"
        )


def _family_of(path: Path) -> str | None:
    rel = path.relative_to(FAMILIES_DIR).parts
    return rel[0] if len(rel) > 1 else None


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(FAMILIES_DIR.rglob("*.py")) if "__pycache__" not in p.parts and _family_of(p)],
    ids=lambda p: str(p.relative_to(FAMILIES_DIR)),
)
def test_no_backend_family_imports_another(path: Path) -> None:
    """What two families need alike goes in backends/_*.py (`_wire.py`, `_runlog.py`, `_secrets.py`)."""
    own = _family_of(path)
    families = {p.name for p in FAMILIES_DIR.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    for name in _imports(path):
        parts = name.split(".")
        if parts[:2] == ["runbridge", "backends"] and len(parts) > 2 and parts[2] in families:
            assert parts[2] == own, f"the {own} family must not import the {parts[2]} family ({name})"


@pytest.mark.parametrize("module", WITHOUT_APP)
def test_the_apps_parts_and_a_followed_run_do_not_reach_back_to_the_app(module: str) -> None:
    path = SRC / module
    assert path.is_file(), f"{module} moved: update WITHOUT_APP"
    assert "runbridge.bridge.app" not in _imports(path), f"{module} must not import bridge.app"
