"""The `runbridge` command as a user runs it: demo, tools, doctor, and one-line configuration errors."""

from __future__ import annotations

import re
from pathlib import Path

from transport_harness import free_port, run_cli, write_config


def test_the_demo_answering_approve_shows_targets_progress_the_gate_question_and_completes(
    child_env: dict[str, str],
) -> None:
    done = run_cli("demo", "--non-interactive", "--answer", "approve", "--speed", "0", env=child_env, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "What can be run:" in out
    assert "approval-demo" in out
    assert "quick-demo" in out
    bars = re.findall(r"^  \[[#.]{28}\] +([\d.]+)/5 ", out, flags=re.MULTILINE)
    assert bars, "progress lines are missing"
    assert float(bars[-1]) == 5.0
    assert "── The run needs a human decision ──" in out
    assert "Approve the launch announcement" in out
    assert ": completed (you accepted)" in out
    assert "Traceback" not in done.stderr


def test_the_demo_answering_reject_ends_with_the_run_failed(child_env: dict[str, str]) -> None:
    done = run_cli("demo", "--non-interactive", "--answer", "reject", "--speed", "0", env=child_env, timeout=60)
    # The demo exits 0 whenever the run reached an end, successful or not (3 only if it is still waiting).
    assert done.returncode == 0, done.stderr
    assert "→ answering: decline (--answer reject)" in done.stdout
    assert ": failed (you declined)" in done.stdout
    assert "was rejected" in done.stdout


def test_tools_lists_the_tools_of_the_configuration(child_env: dict[str, str], config_file: Path) -> None:
    done = run_cli("--config", str(config_file), "tools", env=child_env)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1:3] for line in done.stdout.splitlines()}
    assert rows["runs_start"] == ["runs", "writes"]
    assert rows["runs_cancel"] == ["runs", "destructive"]
    assert rows["targets_list"] == ["targets", "read-only"]
    assert "gates_respond" in rows


def test_serve_with_a_missing_config_file_exits_2_with_one_line_and_no_traceback(child_env: dict[str, str]) -> None:
    done = run_cli("serve", "--config", "/nonexistent.toml", env=child_env)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("runbridge: The configuration file /nonexistent.toml does not exist.")
    assert "Traceback" not in done.stderr


def test_doctor_reports_a_reachable_sandbox_profile_with_a_tick(child_env: dict[str, str], config_file: Path) -> None:
    done = run_cli("doctor", "--config", str(config_file), env=child_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("✓ sandbox (openwop) at http://127.0.0.1:")
    assert "2 target(s)" in done.stdout
    host = [line for line in done.stdout.splitlines() if line.startswith("  host: ")]
    assert host, done.stdout
    assert host[0].startswith("  host: protocol 1.0 (runbridge speaks 1.0); advertises "), "the versions are shown"
    assert "eventPoll" in host[0]


def test_doctor_reports_a_closed_port_with_a_cross_and_exits_1(child_env: dict[str, str], tmp_path: Path) -> None:
    # No workflows listed: the adapter answers targets_list from the file, so only a real probe can tell.
    config = tmp_path / "closed.toml"
    config.write_text(
        write_config(tmp_path / "base.toml", f"http://127.0.0.1:{free_port()}")
        .read_text(encoding="utf-8")
        .replace('workflows = ["approval-demo", "quick-demo"]', "connect_timeout = 2"),
        encoding="utf-8",
    )
    done = run_cli("doctor", "--config", str(config), env=child_env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("✗ sandbox (openwop) at http://127.0.0.1:")
    assert "cannot connect" in done.stdout
    assert "Traceback" not in done.stderr
