"""`runbridge doctor` (the CLI, as a user runs it) against the real servers: a profile that works passes with a short
`host:` line; a `base_url` that ends in the API's own version prefix fails naming the URL to use instead; a v2
orchestrations profile on a Synapse server without scale mode says so once, after one request (its 503 is its
configuration: never retried)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from real_backends import HostProcess
from real_client import _toml  # pyright: ignore[reportPrivateUsage]
from real_synapse import SynapseHost, profile

KEY_ENV = "RUNBRIDGE_DOCTOR_KEY"
OPENWOP_KEY_ENV = "RUNBRIDGE_DOCTOR_OPENWOP_KEY"


def doctor(tmp_path: Path, profiles: dict[str, dict[str, Any]], env: dict[str, str]) -> tuple[int, dict[str, str]]:
    """`python -m runbridge doctor --config ...` on `profiles`: its exit code and its report, by profile name."""
    lines = ['[server]\nstate_path = ":memory:"\n']
    for name, table in profiles.items():
        lines += [f"[profiles.{name}]", *(f"{k} = {_toml(v)}" for k, v in table.items()), ""]
    config = tmp_path / "doctor.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "runbridge", "doctor", "--config", str(config)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    for secret in env.values():
        assert secret not in done.stdout + done.stderr
    report: dict[str, str] = {}
    name = ""
    for line in done.stdout.splitlines():
        if line[:2] in ("✓ ", "✗ "):
            name = line[2:].split(" ", 1)[0]
            report[name] = line
        elif name:
            report[name] += "\n" + line
    return done.returncode, report


def test_doctor_on_synapse_passes_a_good_profile_and_fails_a_base_url_with_the_api_prefix(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    base = synapse.base_url
    good = {**profile(synapse), "api_key_env": KEY_ENV}
    code, report = doctor(
        tmp_path,
        {
            "good": good,
            "api": {**good, "base_url": f"{base}/api"},
            "api_v1": {**good, "base_url": f"{base}/api/v1/"},
        },
        {KEY_ENV: synapse.api_key},
    )
    assert code == 1
    assert report["good"].startswith(f"✓ good (orchestrations) at {base}: "), report["good"]
    assert all(len(line) <= 200 for line in report["good"].splitlines())
    for name in ("api", "api_v1"):
        line = report[name]
        assert line.startswith("✗ "), line
        assert f"use base_url = {base!r}" in line.replace('"', "'"), line


def test_doctor_says_once_that_a_v2_profile_needs_scale_mode_and_asks_the_server_once(
    synapse: SynapseHost, tmp_path: Path
) -> None:
    before = synapse.requests_to("/api/v2/")
    started = time.monotonic()
    code, report = doctor(
        tmp_path, {"scaled": {**profile(synapse, "v1", "v2"), "api_key_env": KEY_ENV}}, {KEY_ENV: synapse.api_key}
    )
    took = time.monotonic() - started
    line = report["scaled"]
    assert code == 1
    assert line.startswith("✗ "), line
    assert line.lower().count("scale mode") == 1, line
    assert 'remove "v2" from the profile' in line
    assert synapse.requests_to("/api/v2/") - before == 1  # the 503 is permanent: not retried
    assert took < 20


def test_doctor_on_the_openwop_sqlite_host_fails_a_base_url_ending_in_v1_and_keeps_the_host_line_short(
    openwop_sqlite: HostProcess, real_key: str, tmp_path: Path
) -> None:
    base = openwop_sqlite.base_url
    good = {"family": "openwop", "base_url": base, "workflows": ["conformance-approval"], "api_key_env": KEY_ENV}
    code, report = doctor(tmp_path, {"good": good, "v1": {**good, "base_url": f"{base}/v1"}}, {KEY_ENV: real_key})
    assert code == 1
    assert report["good"].startswith("✓ "), report["good"]
    host = [line for line in report["good"].splitlines() if line.strip().startswith("host:")]
    assert host, report["good"]
    assert len(host[0]) <= 200, host[0]
    assert report["v1"].startswith("✗ "), report["v1"]
    assert f"use base_url = {base!r}" in report["v1"].replace('"', "'"), report["v1"]
