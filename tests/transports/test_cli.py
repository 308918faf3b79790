"""The `runbridge` command as a user runs it: demo, tools, doctor, and one-line configuration errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from transport_harness import KEY_ENV, RUNBRIDGE, free_port, run_cli, write_config

from runbridge.backends.registry import register_shipped
from runbridge.core.families import registered_families
from runbridge.sandbox import SandboxServer


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


def test_a_log_level_logging_does_not_know_is_a_usage_error_naming_the_levels_not_a_traceback(
    child_env: dict[str, str], config_file: Path
) -> None:
    for args in (["--log-level", "verbose", "tools"], ["tools", "--log-level", "loud"]):
        done = run_cli(*args, env=child_env)
        assert done.returncode == 2, done.stderr
        assert "is not a log level; use DEBUG, INFO, WARNING (default), ERROR or CRITICAL" in done.stderr
        assert "Traceback" not in done.stderr
    lower = run_cli("tools", "--log-level", "debug", env=child_env)  # any case is taken
    assert lower.returncode == 0, lower.stderr
    assert "runs_start" in lower.stdout


def test_doctor_says_which_option_is_wrong_instead_of_a_traceback(child_env: dict[str, str], tmp_path: Path) -> None:
    token = tmp_path / "token.json"
    token.write_text('{"access_token": "not-checked-here"}', encoding="utf-8")
    token.chmod(0o600)
    config = tmp_path / "runbridge.toml"
    config.write_text(
        '[profiles.oa]\nfamily = "orchagent"\nbase_url = "http://127.0.0.1:9"\n'
        f'token_file = "{token}"\noptions = {{ status_idle_seconds = "soon" }}\n',
        encoding="utf-8",
    )
    done = run_cli("doctor", "--config", str(config), env=child_env)
    assert done.returncode == 2, done.stderr
    assert "[profiles.oa] options.status_idle_seconds: Input should be a valid number (got 'soon')" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


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


def test_the_interactive_demo_with_no_input_leaves_the_gate_open_and_says_how_to_answer_it(
    child_env: dict[str, str],
) -> None:
    done = run_cli("demo", "--speed", "0", env=child_env, timeout=60)  # stdin closed: the prompt reads EOF
    assert done.returncode == 3, done.stdout + done.stderr
    assert "No answer (the input ended): the question stays open." in done.stdout
    assert "runbridge demo --non-interactive --answer approve" in done.stdout
    assert "Still waiting: Approve the launch announcement" in done.stdout
    assert done.stderr == ""


def test_the_interactive_demo_takes_the_words_people_type_for_a_choice(child_env: dict[str, str]) -> None:
    """A person answers the approval in their own words: an unknown word is asked again, "approve" means accept."""
    done = subprocess.run(
        [*RUNBRIDGE, "demo", "--speed", "0"],
        env=child_env,
        input="maybe\nApprove\n\n",  # then Enter: the optional feedback field is skipped
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("please type one of: accept, reject, refine") == 1
    assert ": completed (you accepted)" in done.stdout
    assert done.stderr == ""


def test_ctrl_c_at_the_demo_prompt_ends_the_demo_at_once_without_a_traceback(child_env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [*RUNBRIDGE, "demo", "--speed", "0"],
        env=child_env,
        stdin=subprocess.PIPE,  # open, and nothing typed: the prompt waits for a line
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        seen = b""
        while b"(or 'decline'): " not in seen:
            chunk = process.stdout.read1(4096)
            assert chunk, seen.decode()
            seen += chunk
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = process.communicate(timeout=10)
        waited = time.monotonic() - started
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130
    assert waited < 5, "the demo waited for the prompt's line after Ctrl-C"
    assert b"Traceback" not in err, err.decode()


def test_tools_keeps_its_columns_aligned_for_the_longest_tool_name(child_env: dict[str, str], tmp_path: Path) -> None:
    config = write_config(tmp_path / "two.toml", "http://127.0.0.1:9")
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[profiles.oa]\nfamily = "orchagent"\nbase_url = "http://127.0.0.1:9"\napi_key_env = "OA_KEY"\n',
        encoding="utf-8",
    )
    done = run_cli("--config", str(config), "tools", env=child_env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("threads_set_secrets ") for line in lines)
    columns = {line.index(line.split()[1], len(line.split()[0])) for line in lines}
    assert len(columns) == 1, done.stdout


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["--variant", "bogus"], "runbridge: unknown OpenWOP variant 'bogus'; known: reference, "),
        (["--family", "orchagent", "--variant", "scale"], "runbridge: unknown orchagent variant 'scale'; known: "),
    ],
)
def test_the_sandbox_refuses_an_unknown_variant_in_one_line(
    args: list[str], first_line: str, child_env: dict[str, str]
) -> None:
    done = run_cli("sandbox", *args, env=child_env)
    assert done.returncode == 2
    assert done.stderr.startswith(first_line), done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_the_sandbox_refuses_an_unknown_family_with_the_known_ones(child_env: dict[str, str]) -> None:
    register_shipped()
    known = ", ".join(repr(name) for name in sorted({spec.sandbox for spec in registered_families() if spec.sandbox}))
    assert "'openwop'" in known  # the list is the registry's, which has at least the first family
    done = run_cli("sandbox", "--family", "bogus", env=child_env)
    assert done.returncode == 2
    assert f"invalid choice: 'bogus' (choose from {known})" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_sandbox_on_a_busy_port_says_so_in_one_line(child_env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = run_cli("sandbox", "--port", str(port), env=child_env)
    assert done.returncode == 2
    assert (
        done.stderr == f"runbridge: Cannot listen on 127.0.0.1:{port} (Address already in use); pick another --port.\n"
    )


def test_doctor_checks_the_key_even_when_no_workflow_is_named(
    child_env: dict[str, str], sandbox: SandboxServer, tmp_path: Path
) -> None:
    # No workflows: nothing else would send the key (discovery is read without it).
    config = write_config(tmp_path / "wrong.toml", sandbox.base_url)
    config.write_text(
        config.read_text(encoding="utf-8")
        .replace('workflows = ["approval-demo", "quick-demo"]\n', "")
        .replace(f'api_key_env = "{KEY_ENV}"', 'api_key_env = "RB_DOCTOR_WRONG_KEY"'),
        encoding="utf-8",
    )
    wrong = run_cli("doctor", "--config", str(config), env={**child_env, "RB_DOCTOR_WRONG_KEY": "sk-wrong-0000"})
    right = run_cli("doctor", "--config", str(config), env={**child_env, "RB_DOCTOR_WRONG_KEY": sandbox.api_key})
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert wrong.stdout.startswith("✗ sandbox (openwop) at http://127.0.0.1:")
    assert "to check the credentials" in wrong.stdout
    assert "did not accept the key profile 'sandbox' sends (from $RB_DOCTOR_WRONG_KEY)" in wrong.stdout
    assert "sk-wrong-0000" not in wrong.stdout + wrong.stderr
    assert right.returncode == 0, right.stdout + right.stderr
    assert "0 target(s) (OpenWOP has no workflow list: name the ones to offer in `workflows`)" in right.stdout


def test_serve_http_on_a_busy_port_says_so_in_one_line(child_env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = run_cli("serve", "--http", "--port", str(port), env=child_env)
    assert done.returncode == 2
    assert done.stderr == (
        f"runbridge: Cannot listen on 127.0.0.1:{port} (Address already in use); pick another --port or --host.\n"
    )


def test_serve_http_says_where_it_listens(child_env: dict[str, str]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*RUNBRIDGE, "serve", "--http", "--port", str(port)],
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert first == f"runbridge: serving MCP over streamable HTTP at http://127.0.0.1:{port}/mcp\n"


def test_serve_without_any_profile_says_so_on_stderr_and_still_serves(tmp_path: Path) -> None:
    # What a host does: start runbridge in a folder of its own, without --config.
    env = {
        k: v for k, v in os.environ.items() if k != "RUNBRIDGE_CONFIG" and not k.startswith(("OPENWOP_", "ORCHAGENT_"))
    }
    done = subprocess.run(
        [*RUNBRIDGE, "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(
        f"runbridge: no profile is configured (no --config, no $RUNBRIDGE_CONFIG, no ./runbridge.toml in {tmp_path}"
    )
    assert "Pass --config /path/to/runbridge.toml." in done.stderr


@pytest.mark.parametrize(
    ("state", "env", "message"),
    [
        ("folder/state.db", {}, "runbridge: Cannot open the run registry "),
        ("ok/state.db", {"RUNBRIDGE_STATE_KEY": "short"}, "runbridge: $RUNBRIDGE_STATE_KEY must hold at least 32 "),
        ("empty-key/state.db", {}, "request-state.key holds no usable key (too short): delete it and runbridge makes"),
    ],
    ids=["registry-is-a-folder", "short-shared-key", "empty-key-file"],
)
def test_serve_with_unusable_state_says_what_to_fix_in_one_line(
    state: str, env: dict[str, str], message: str, child_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "folder" / "state.db").mkdir(parents=True)  # a folder where the registry file should be
    (tmp_path / "empty-key").mkdir()
    (tmp_path / "empty-key" / "request-state.key").write_text("", encoding="utf-8")
    (tmp_path / "empty-key" / "request-state.key").chmod(0o600)  # private, as runbridge wants it: only too short
    config = write_config(tmp_path / "state.toml", "http://127.0.0.1:9")
    config.write_text(
        config.read_text(encoding="utf-8").replace('state_path = ":memory:"', f'state_path = "{tmp_path / state}"'),
        encoding="utf-8",
    )
    done = run_cli("serve", "--config", str(config), env={**child_env, **env})
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["serve", "demo", "sandbox", "doctor", "tools", "login", "logout"])
def test_every_command_help_says_what_the_command_does(name: str, child_env: dict[str, str]) -> None:
    done = run_cli(name, "--help", env=child_env)
    assert done.returncode == 0, done.stderr
    described = done.stdout.split("\n\n")[1]  # usage, then the description, then the options
    assert described[:1].isupper(), done.stdout
    assert described.rstrip().endswith("."), done.stdout
    assert not described.startswith(("options:", "positional arguments:")), done.stdout
