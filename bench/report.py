"""RESULTS.md from the figures of one run (and, optionally, the same benchmarks run on the code before a change)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ._support import Figure, Outcome

NOTES = Path(__file__).with_name("notes.md")


def _value(figure: Figure) -> str:
    if figure.unit == "x":
        return f"{figure.value:.2f}x"
    if figure.unit == "ratio":
        return f"{figure.value:.3f}"
    if figure.unit == "events/s":
        return f"{figure.value:,.0f}/s"
    if figure.unit in ("ms", "MB"):
        return f"{figure.value:,.2f} {figure.unit}"
    return f"{figure.value:,.1f} {figure.unit}"


def _met(figure: Figure) -> str:
    return "" if figure.met is None else ("yes" if figure.met else "**no**")


def to_json(outcomes: list[Outcome], machine: dict[str, str], started: str) -> dict[str, Any]:
    return {"machine": machine, "date": started, "outcomes": [asdict(o) for o in outcomes]}


def from_json(path: Path) -> list[Outcome]:
    data = json.loads(path.read_text(encoding="utf-8"))
    outcomes = []
    for raw in data["outcomes"]:
        figures = [Figure(**f) for f in raw.pop("figures")]
        outcomes.append(Outcome(**raw, figures=figures))
    return outcomes


def render(
    outcomes: list[Outcome],
    machine: dict[str, str],
    *,
    started: str,
    command: str,
    load_after: str,
    before: list[Outcome] | None = None,
    before_label: str = "",
) -> str:
    lines = [
        "# runbridge benchmarks",
        "",
        f"Written by `{command}` on {started}.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {machine['cpu']} |",
        f"| cores | {machine['cores']} |",
        f"| Python | {machine['python']} |",
        f"| OS | {machine['os']} |",
        f"| load average (1, 5, 15 min) | {machine['load']} before; {load_after} after |",
        "",
        "Each figure is measured against its reference in the same run (bare httpx2 client, the sandbox read "
        "directly, a hello-world MCP server); the absolute numbers stand beside it. The sandbox runs in its own "
        "process throughout, so its work is not charged to runbridge.",
        "",
        "| benchmark | figure | value | ratio (same run) | target | met | absolute numbers (same run) | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        for f in outcome.figures:
            absolute = f.absolute.replace("|", "\\|")
            cells = [f.benchmark, f.name, _value(f), f.ratio, f.target, _met(f), absolute, f.note]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Reproduce", "", "All at once: `python -m bench` (see `python -m bench --help`). One by one:", ""]
    lines += [f"* {o.name}: `{o.command}`" for o in outcomes]
    if before:
        lines += _comparison(outcomes, before, before_label)
    if NOTES.exists():
        lines += ["", NOTES.read_text(encoding="utf-8").strip()]
    lines += ["", "## Raw numbers", "", "```text"]
    lines += [f"{o.name}: {json.dumps(o.details, default=str)}" for o in outcomes]
    lines += ["```"]
    return "\n".join(lines) + "\n"


def _comparison(outcomes: list[Outcome], before: list[Outcome], label: str) -> list[str]:
    old = {(f.benchmark, f.name): f for o in before for f in o.figures}
    lines = [
        "",
        "## Before and after",
        "",
        f'The same benchmarks, same machine, same session, on {label} ("before") and on this tree ("after").',
        "",
        "| benchmark | figure | before | after |",
        "|---|---|---|---|",
    ]
    for outcome in outcomes:
        for f in outcome.figures:
            prior = old.get((f.benchmark, f.name))
            if prior is not None:
                lines.append(f"| {f.benchmark} | {f.name} | {_value(prior)} | {_value(f)} |")
    return lines
