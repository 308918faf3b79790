"""A family is known in its own package, its sandbox and the registry line, nowhere else; its spec stays light.

Spec modules are read at startup by every command, so they import only core (never the HTTP layer or their own
adapter); `core.families` imports no other runbridge module; and no module outside a family's package, the sandbox
and `backends/registry.py` names a family (the configuration, the CLI, doctor, the demo, the secret policy and the
error mapping read the registry instead).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from test_layers import SRC, _imports, _modules

from runbridge.backends.registry import SHIPPED

FAMILY_DIRS = {SRC / "backends" / spec.name for spec in SHIPPED}
SPECS = sorted(SRC.glob("backends/*/spec.py"))


def test_every_shipped_family_has_a_spec_module_in_its_package() -> None:
    assert {path.parent for path in SPECS} == FAMILY_DIRS


def _top_level_imports(path: Path) -> set[str]:
    """What a module imports when it is imported (not what its functions import when they run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["runbridge", *path.relative_to(SRC).parts[:-1]]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.add(".".join([*base, node.module] if node.module else base))
    return found


@pytest.mark.parametrize("path", [*SPECS, SRC / "backends" / "registry.py"], ids=lambda p: str(p.relative_to(SRC)))
def test_spec_modules_import_only_core_and_other_specs(path: Path) -> None:
    for name in _top_level_imports(path):
        if not name.startswith("runbridge.") or name.startswith("runbridge.core"):
            continue
        why = f"{path.name} imports {name} at startup: a spec imports its adapter and the HTTP layer in a function"
        assert name.startswith("runbridge.backends."), why
        assert name.endswith(".spec"), why


def test_the_registry_core_defines_imports_no_other_runbridge_module() -> None:
    imported = _imports(SRC / "core" / "families.py")
    assert not {n for n in imported if n.startswith("runbridge.") and not n.startswith("runbridge.core")}


def _literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


OUTSIDE = [
    path
    for path in _modules()
    if not any(path.is_relative_to(folder) for folder in FAMILY_DIRS)
    and not path.is_relative_to(SRC / "sandbox")
    and path != SRC / "backends" / "registry.py"
]


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_outside_a_family_names_it(path: Path) -> None:
    named = _literals(path) & {spec.name for spec in SHIPPED}
    assert not named, f"{path.relative_to(SRC)} names {sorted(named)}: read it from the family's spec instead"


def test_reading_the_configuration_loads_no_adapter_and_no_http_code() -> None:
    """Cold start: the specs are registered when runbridge is imported, the adapters only when a profile is used."""
    probe = (
        "import sys, runbridge.core.config as c\n"
        "c.load_settings('', env={'OPENWOP_BASE_URL': 'http://h.test'})\n"
        "print(sorted(m for m in sys.modules if m.startswith(('httpx2', 'runbridge.http')) or m.endswith('.adapter')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
