"""Every example (examples/): each runs with one command against the sandbox and exits 0, each has its line in
examples/README.md, and one whose check does not hold exits non-zero saying which (and each example does when its
world misbehaves: test_examples_misbehave.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging_tools import ROOT

EXAMPLES = ROOT / "examples"
PROGRAMS = sorted(p for p in EXAMPLES.rglob("*.py") if not p.name.startswith("_"))


OWN_PREFIXES = ("OPENWOP_", "ORCHAGENT_", "RUNBRIDGE_")


def _run(program: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
    env.update(extra)
    return subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=180, cwd=ROOT, env=env
    )


def test_every_example_has_its_line_in_the_examples_readme() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert PROGRAMS, "no example found"
    for program in PROGRAMS:
        relative = program.relative_to(EXAMPLES).as_posix()
        assert f"]({relative})" in readme, f"examples/README.md has no line for {relative}"


def test_each_family_example_is_named_after_a_registered_family() -> None:
    """`families/<family>.py`: a family's example is found by its name (the families shipped before the examples
    each have one; a family added since gets its file and README line as it lands)."""
    from runbridge.core.families import family_names

    have = {p.stem for p in (EXAMPLES / "families").glob("*.py")}
    assert have <= set(family_names()), f"not a family: {sorted(have - set(family_names()))}"
    assert {"openwop", "orchestrations", "orchagent", "platform", "orq", "langgraph"} <= have


def test_each_behaviour_has_its_example() -> None:
    have = {p.stem for p in (EXAMPLES / "behaviours").glob("*.py")}
    shown = {"gate_by_elicitation", "gate_without_elicitation", "hybrid_wait_then_watch", "usage_report"}
    assert shown | {"run_subscription", "task"} <= have


@pytest.mark.slow
@pytest.mark.parametrize("program", PROGRAMS, ids=[p.relative_to(EXAMPLES).as_posix() for p in PROGRAMS])
def test_the_example_shows_what_it_says(program: Path) -> None:
    done = _run(program)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"passed: {program.name}" in done.stdout
    assert "ok: " in done.stdout


@pytest.mark.slow
def test_an_example_whose_check_fails_exits_non_zero_saying_which(tmp_path: Path) -> None:
    program = tmp_path / "failing.py"
    program.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from _harness import check, connect, key_profile, run\n\n"
        "async def main():\n"
        "    async with connect(profile=key_profile() + 'workflows = [\"quick-demo\"]\\n') as session:\n"
        "        report = await session.ok('runs_start', {'target_id': 'quick-demo'})\n"
        "        check(report['status'] == 'failed', 'the quick demo to fail')\n\n"
        "run(main)\n",
        encoding="utf-8",
    )
    done = _run(program)
    assert done.returncode == 1
    assert "FAILED failing.py: expected the quick demo to fail" in done.stderr
