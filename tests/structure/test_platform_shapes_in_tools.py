"""The admin tools show what `AdminAPI` answers in core types (`AdminPage`, `Balance`, records): no key the
platform wraps its answers in is read in tools/ (the adapter unwraps them)."""

from __future__ import annotations

import ast
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / "src" / "runbridge" / "tools"
# keys of the orchagent.io answers: list wrappers, totals, billing
WIRE_KEYS = {
    "runs",
    "events",
    "logs",
    "members",
    "invitations",
    "total",
    "balance_cents",
    "recent_transactions",
    "transactions",
}


def _read_keys(tree: ast.AST) -> set[str]:
    """String constants read as keys: `doc["k"]`, `doc.get("k")`, or given to a helper with a record: `f(doc, "k")`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            found.add(str(node.slice.value))
        if isinstance(node, ast.Call):
            named = isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "pop")
            helper = isinstance(node.func, ast.Name) and len(node.args) >= 2  # f(doc, "key")
            for arg in node.args[:1] if named else node.args[1:] if helper else []:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    return found


def test_admin_tools_read_no_platform_wire_keys() -> None:
    for path in sorted(TOOLS.glob("*admin*.py")):
        keys = _read_keys(ast.parse(path.read_text(encoding="utf-8"))) & WIRE_KEYS
        assert not keys, f"{path.name} reads the platform's answer keys {sorted(keys)}: let the adapter unwrap them"
