"""Each example when its world misbehaves (RUNBRIDGE_EXAMPLE_MISBEHAVE, examples/_harness.py): what it shows cannot
happen, and it says which check failed and exits 1."""

from __future__ import annotations

import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import StdioServerParameters
from packaging_tools import ROOT

from runbridge.core.config import load_settings
from runbridge.server import build_server

EXAMPLES = ROOT / "examples"
PROGRAMS = sorted(p for p in EXAMPLES.rglob("*.py") if not p.name.startswith("_"))
OWN_PREFIXES = ("OPENWOP_", "ORCHAGENT_", "RUNBRIDGE_")


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _run_here(program: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **extra: str) -> Ran:
    """The example run in this process as `python <program>` runs it: its module executed with its folder first on
    the path and its name in argv, its `run(main)` (every check, the exit status, what it prints), and runbridge
    built from the runbridge.toml and environment the example gives it, served in this process to the official
    client. Start-ups are left out, the example's (Python, the MCP client) and runbridge's (over stdio):
    test_examples.py runs each example as a user runs it, runbridge over stdio as a host starts it
    (`test_the_example_shows_what_it_says`), and shows a failed check's exit status reaching the shell
    (`test_an_example_whose_check_fails_exits_non_zero_...`)."""
    for name in [k for k in os.environ if k.startswith(OWN_PREFIXES)]:
        monkeypatch.delenv(name)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [str(program)])
    monkeypatch.syspath_prepend(str(program.parent))  # where Python puts a script's folder; restored afterwards
    namespace = runpy.run_path(str(program), run_name="__example__")  # defines main; `__main__` would run it

    def served_here(params: StdioServerParameters, errlog: Any = None) -> Any:
        """runbridge as the harness would start it over stdio (`serve --config <file>`, with its environment and in
        its folder)."""
        for name, value in (params.env or {}).items():
            monkeypatch.setenv(name, value)
        if params.cwd is not None:
            monkeypatch.chdir(params.cwd)  # where the profile's relative paths (a token file) lead
        config = params.args[params.args.index("--config") + 1]
        return build_server(load_settings(config))

    monkeypatch.setattr(sys.modules["_harness"], "stdio_client", served_here)
    capsys.readouterr()
    try:
        namespace["run"](namespace["main"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return Ran(code, out, err)


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
