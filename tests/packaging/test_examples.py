"""Every example (examples/): each runs with one command against the sandbox and exits 0, each has its line in
examples/README.md, and one whose check does not hold exits non-zero saying which."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from dataclasses import dataclass
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


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _run_here(program: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **extra: str) -> Ran:
    """The example run in this process as `python <program>` runs it: its module executed with its folder first on
    the path and its name in argv, its `run(main)` (every check, the exit status, what it prints), and runbridge
    started over stdio by the official client as a host starts it. The examples' own start-up (Python, the MCP
    client) is left out: each is shown to run as a user runs it by `test_the_example_shows_what_it_says`, and an
    example's exit status reaching the shell by `test_an_example_whose_check_fails_exits_non_zero_saying_which`."""
    for name in [k for k in os.environ if k.startswith(OWN_PREFIXES)]:
        monkeypatch.delenv(name)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [str(program)])
    monkeypatch.syspath_prepend(str(program.parent))  # where Python puts a script's folder; restored afterwards
    namespace = runpy.run_path(str(program), run_name="__example__")  # defines main; `__main__` would run it
    capsys.readouterr()
    try:
        namespace["run"](namespace["main"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return Ran(code, out, err)


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


ASK_THE_PERSON = sorted(p for p in PROGRAMS if "Person(" in p.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("program", PROGRAMS, ids=[p.relative_to(EXAMPLES).as_posix() for p in PROGRAMS])
def test_the_example_exits_non_zero_when_the_backend_is_unavailable(
    program: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sandbox answers 503 to every request (RUNBRIDGE_EXAMPLE_MISBEHAVE=unavailable): what the example shows
    cannot happen, and it says so and exits 1."""
    done = _run_here(program, monkeypatch, capsys, RUNBRIDGE_EXAMPLE_MISBEHAVE="unavailable")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED {program.name}: expected" in done.stderr, done.stderr
    assert f"passed: {program.name}" not in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("program", ASK_THE_PERSON, ids=[p.relative_to(EXAMPLES).as_posix() for p in ASK_THE_PERSON])
def test_the_example_exits_non_zero_when_the_person_declines(
    program: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every question the example's person is asked is declined (RUNBRIDGE_EXAMPLE_MISBEHAVE=decline): the gate
    is not approved, a check of the example fails, and it exits 1."""
    done = _run_here(program, monkeypatch, capsys, RUNBRIDGE_EXAMPLE_MISBEHAVE="decline")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED {program.name}: expected" in done.stderr, done.stderr
    assert "the person is asked" in done.stdout  # the gate reached the person, who declined it


def test_some_examples_ask_the_person() -> None:
    assert {p.relative_to(EXAMPLES).as_posix() for p in ASK_THE_PERSON} >= {
        "behaviours/gate_by_elicitation.py",
        "families/openwop.py",
    }
