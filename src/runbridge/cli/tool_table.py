"""`runbridge tools --markdown`: every tool runbridge has, as the Markdown table the README shows.

The table is the whole surface, whatever the configuration: each tool with its toolset, what it does, whether it
changes anything, and the backend families whose adapters can serve it (read from the family registry and the
capability protocols, so a new family or toolset shows up here without anyone editing a list).
"""

from __future__ import annotations

from ..core.config import DEFAULT_TOOLSETS
from ..core.families import registered_families
from ..core.protocols import capabilities_of
from ..tools import SURFACE, ToolSpec

__all__ = ["markdown_table", "mode_of"]


def mode_of(spec: ToolSpec) -> str:
    """`read-only`, `destructive` or `writes`, as `runbridge tools` prints it."""
    return "read-only" if spec.read_only else "destructive" if spec.destructive else "writes"


def _families_by_capability() -> tuple[list[str], dict[str, list[str]]]:
    """Every registered family's display name, and for each capability the families whose adapter implements it."""
    names: list[str] = []
    serving: dict[str, list[str]] = {}
    for spec in sorted(registered_families(), key=lambda s: s.name):
        names.append(spec.display_name)
        for capability in capabilities_of(spec.adapter()):
            serving.setdefault(capability, []).append(spec.display_name)
    return names, serving


def markdown_table() -> str:
    """The tool table, one row per tool in surface order, ending with a newline."""
    everyone, serving = _families_by_capability()
    rows = [
        "| tool | toolset | what it does | changes | families |",
        "|---|---|---|---|---|",
    ]
    for spec in SURFACE:
        families = everyone if spec.capability is None else serving.get(spec.capability, [])
        shown = "all" if families == everyone else ", ".join(families) or "none yet"
        toolset = spec.toolset if spec.toolset in DEFAULT_TOOLSETS else f"{spec.toolset} (off by default)"
        rows.append(f"| `{spec.name}` | {toolset} | {spec.title} | {mode_of(spec)} | {shown} |")
    return "\n".join(rows) + "\n"
