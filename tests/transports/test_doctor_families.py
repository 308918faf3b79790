"""`runbridge doctor` tells a profile pointed at the wrong kind of host from a working one: each family's profile
against each other family's sandbox fails, naming what to check, and each against its own passes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import product
from pathlib import Path

import pytest
from transport_harness import KEY_ENV, SECRET, run_cli

from runbridge.backends.registry import register_shipped
from runbridge.core.families import family_names
from runbridge.sandbox import SandboxServer

FAMILIES = ("openwop", "orchestrations", "orchagent")
ASKS = {
    "openwop": "Is this an OpenWOP host?",
    "orchestrations": "Is this a Synapse server?",
    "orchagent": "Is this an orchagent server?",
}


@pytest.fixture(scope="module")
def hosts() -> Iterator[SandboxServer]:
    with SandboxServer(list(FAMILIES), api_key=SECRET) as server:
        yield server


def _profile(name: str, family: str, base_url: str) -> str:
    workflows = 'workflows = ["quick-demo"]\n' if family == "openwop" else ""
    return f'[profiles.{name}]\nfamily = "{family}"\nbase_url = "{base_url}"\napi_key_env = "{KEY_ENV}"\n{workflows}\n'


def _doctor(hosts: SandboxServer, tmp_path: Path) -> dict[str, str]:
    """Every family's profile against every family's host, one doctor run: its output, by profile name."""
    config = tmp_path / "families.toml"
    config.write_text(
        '[server]\nstate_path = ":memory:"\n\n'
        + "".join(
            _profile(f"{family}_on_{host}", family, hosts.base_urls[host])
            for family, host in product(FAMILIES, FAMILIES)
        ),
        encoding="utf-8",
    )
    env = {**os.environ, KEY_ENV: SECRET}
    done = run_cli("doctor", "--config", str(config), env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stdout + done.stderr
    report: dict[str, str] = {}
    name = ""
    for line in done.stdout.splitlines():
        if line[:2] in ("✓ ", "✗ "):
            name = line[2:].split(" ", 1)[0]
            report[name] = line
        else:
            report[name] += "\n" + line
    return report


def test_doctor_fails_a_profile_on_another_familys_host_and_says_to_check_family_and_base_url(
    hosts: SandboxServer, tmp_path: Path
) -> None:
    register_shipped()
    assert "openwop" in family_names()  # the message lists the registry's families, which has at least these
    report = _doctor(hosts, tmp_path)
    assert len(report) == len(FAMILIES) ** 2
    for family, host in product(FAMILIES, FAMILIES):
        line = report[f"{family}_on_{host}"]
        if family == host:
            assert line.startswith("✓ "), line
            assert "Is this" not in line
        else:
            assert line.startswith("✗ "), line
            assert ASKS[family] in line
            assert f"Check the profile's `family` ({', '.join(family_names())})" in line
            assert "`base_url` is the API's root" in line
    assert "got a 404 without the error code every OpenWOP host gives" in report["openwop_on_orchagent"]
    assert "GET /meta, which every orchagent server answers, got HTTP 404" in report["orchagent_on_orchestrations"]
    own = report["orchagent_on_orchagent"]
    assert "  host: orchagent 0.1.3-sandbox; deprecated: history-limit-over-1000: " in own
    assert "(until 2027-01-01)" in own
