"""Every command-line input and every configuration is checked: a bad one is one line on stderr saying what to fix,
with exit status 2, and never a traceback, whichever command reads it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from transport_harness import run_cli

from runbridge.backends.registry import register_shipped
from runbridge.core.families import family_names

BAD_OPTIONS = {
    "a duration that is not a number": (
        "orchagent",
        'status_idle_seconds = "soon"',
        "[profiles.p] options.status_idle_seconds: Input should be a valid number (got 'soon')",
    ),
    "an API version that does not exist": (
        "orchestrations",
        'api_versions = ["v3"]',
        "[profiles.p] options.api_versions.0: Input should be 'v1' or 'v2' (got 'v3')",
    ),
    "a typo": ("orchagent", "typo_option = 1", "[profiles.p] options.typo_option: unknown key"),
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """This environment, without a configuration or backend variables of its own."""
    child = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONUNBUFFERED" and not k.startswith(("RUNBRIDGE_", "ORCHAGENT_", "OPENWOP_"))
    }
    child["HOME"] = str(tmp_path)
    return child


def _one_line_error(done: subprocess.CompletedProcess[str], said: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert said in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("command", ["tools", "serve", "doctor"])
@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_options_a_family_does_not_take_stop_every_command_before_it_starts(
    tmp_path: Path, env: dict[str, str], command: str, case: str
) -> None:
    family, options, said = BAD_OPTIONS[case]
    config = tmp_path / "runbridge.toml"
    config.write_text(
        f'[profiles.p]\nfamily = "{family}"\nbase_url = "http://127.0.0.1:9"\n[profiles.p.options]\n{options}\n',
        encoding="utf-8",
    )
    done = run_cli(command, "--config", str(config), env=env)
    _one_line_error(done, said)
    assert done.stderr.startswith(f"runbridge: {config}: ")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["serve", "--http", "--port", "70000"], "argument --port: 70000 is not a port: use 1 to 65535"),
        (["serve", "--http", "--port", "http"], "argument --port: 'http' is not a port number"),
        (["serve", "--http", "--host", ""], "argument --host: '' is not a host name or address"),
        (["sandbox", "--port", "-1"], "argument --port: -1 is not a port: use 0 to 65535"),
        (["sandbox", "--speed", "fast"], "argument --speed: 'fast' is not a number"),
        (["demo", "--speed", "-2"], "argument --speed: -2 is not a speed"),
        (["demo", "--family", "bogus"], "argument --family: invalid choice: 'bogus' (choose from 'langgraph', "),
        (["login", "orq"], "argument family: invalid choice: 'orq' (choose from 'orchagent'"),
        (["--log-level", "verbose", "tools"], "is not a log level"),
    ],
)
def test_a_bad_flag_is_a_usage_error_naming_what_it_takes(env: dict[str, str], args: list[str], said: str) -> None:
    _one_line_error(run_cli(*args, env=env), said)


def test_a_family_that_does_not_exist_is_refused_naming_those_that_do(tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "runbridge.toml"
    config.write_text('[profiles.p]\nfamily = "bogus"\nbase_url = "https://example.test"\n', encoding="utf-8")
    done = run_cli("tools", "--config", str(config), env=env)
    register_shipped()
    assert "openwop" in family_names()
    _one_line_error(done, f"[profiles.p] family: unknown family 'bogus'; runbridge knows {', '.join(family_names())}")


def test_a_configuration_file_that_cannot_be_read_says_why(tmp_path: Path, env: dict[str, str]) -> None:
    missing = tmp_path / "nowhere.toml"
    _one_line_error(
        run_cli("tools", "--config", str(missing), env=env), f"The configuration file {missing} does not exist"
    )
    _one_line_error(
        run_cli("serve", "--config", str(tmp_path), env=env), f"The configuration path {tmp_path} is not a file"
    )
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[profiles]\n")
    _one_line_error(run_cli("doctor", "--config", str(binary), env=env), f"Cannot read the configuration file {binary}")
    broken = tmp_path / "broken.toml"
    broken.write_text("[profiles.p\n", encoding="utf-8")
    _one_line_error(run_cli("tools", "--config", str(broken), env=env), f"{broken} is not valid TOML")
