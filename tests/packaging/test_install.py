"""`runbridge install --client HOST` against a temporary home, for every host: a fresh file, a file with other
servers (kept, backed up), a file it cannot parse (refused, untouched), `--print` (writes nothing); keys never in
clear where the host can keep them elsewhere, never on the terminal; and the entry written for Claude Desktop
really starts runbridge, which answers the official MCP client."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from runbridge.cli.install import run_install
from runbridge.cli.install_hosts import HOSTS
from runbridge.core import RunbridgeError, load_settings
from runbridge.sandbox import SandboxServer

KEY_ENV = "RUNBRIDGE_INSTALL_TEST_KEY"
SECRET = "sk-rbx-Install4Hq8Secret"
CLIENTS = sorted(HOSTS)


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with SandboxServer("openwop", api_key=SECRET) as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, sandbox: SandboxServer) -> Path:
    path = tmp_path / "conf" / "runbridge.toml"
    path.parent.mkdir()
    path.write_text(
        '[server]\nstate_path = ":memory:"\n\n[profiles.sandbox]\nfamily = "openwop"\n'
        f'base_url = "{sandbox.base_url}"\napi_key_env = "{KEY_ENV}"\nworkflows = ["approval-demo"]\n',
        encoding="utf-8",
    )
    return path


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENWOP_", "ORCHAGENT_", "RUNBRIDGE_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), APPDATA=str(home / "AppData"), **extra)
    return env


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def _install(home: Path, config: Path, client: str, *more: str, key: str | None = SECRET) -> Done:
    """`runbridge install --client CLIENT --config CONFIG [--print]` in this process, in the environment `_env`
    makes (a failure is exit status 2 and one line, as the command says it; test_the_command_refuses_... runs the
    real command)."""
    env = _env(home, **({KEY_ENV: key} if key is not None else {}))
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        for name in set(os.environ) - set(env):
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        try:
            code = run_install(load_settings(str(config)), client, print_only="--print" in more, home=home)
        except RunbridgeError as exc:
            print(f"runbridge: {exc}", file=sys.stderr)
            code = 2
    return Done(code, out.getvalue(), err.getvalue())


def _target(home: Path, client: str) -> Path:
    os_env = {"XDG_CONFIG_HOME": str(home / ".config"), "APPDATA": str(home / "AppData")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in os_env.items():
            patch.setenv(name, value)
        return HOSTS[client].config_file(home)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_fresh_file_gets_the_entry_with_the_absolute_command_and_the_key_kept_as_the_host_allows(
    client: str, tmp_path: Path, config: Path
) -> None:
    home = tmp_path / "home"
    done = _install(home, config, client)
    assert done.returncode == 0, done.stderr
    target = _target(home, client)
    data = json.loads(target.read_text(encoding="utf-8"))
    host = HOSTS[client]
    entry = data[host.servers_key]["runbridge"]
    assert Path(entry["command"]).is_absolute()
    assert Path(entry["command"]).exists()
    assert entry["args"][-3:] == ["serve", "--config", str(config.resolve())]
    value = entry["env"][KEY_ENV]
    if client == "claude-desktop":  # no variables, no secret store: the value, in a private file
        assert value == SECRET
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    else:
        assert SECRET not in target.read_text(encoding="utf-8")
        assert value == {"claude-code": "${%s}", "vscode": "${input:runbridge-%s}"}.get(client, "${env:%s}") % (
            KEY_ENV if client != "vscode" else KEY_ENV.lower().replace("_", "-")
        )
    if client == "vscode":
        (prompt,) = data["inputs"]
        assert prompt["password"] is True
        assert value == "${input:" + prompt["id"] + "}"
    assert str(target) in done.stdout
    assert SECRET not in done.stdout + done.stderr
    assert not list(target.parent.glob("*.bak")), "a file that did not exist has no copy"


@pytest.mark.parametrize("client", CLIENTS)
def test_an_existing_file_keeps_its_other_servers_and_settings_and_a_copy_is_kept(
    client: str, tmp_path: Path, config: Path
) -> None:
    home = tmp_path / "home"
    target = _target(home, client)
    target.parent.mkdir(parents=True)
    key = HOSTS[client].servers_key
    before: dict[str, Any] = {
        "theme": "dark",
        key: {"other": {"command": "other-server", "args": ["--flag"]}, "runbridge": {"command": "old"}},
    }
    if client == "vscode":
        before["inputs"] = [{"type": "promptString", "id": "other-key", "description": "theirs", "password": True}]
    original = json.dumps(before, indent=4)
    target.write_text(original, encoding="utf-8")
    done = _install(home, config, client)
    assert done.returncode == 0, done.stderr
    after = json.loads(target.read_text(encoding="utf-8"))
    assert after["theme"] == "dark"
    assert after[key]["other"] == before[key]["other"]
    assert after[key]["runbridge"]["command"] != "old"
    assert "replaced" in done.stdout
    (backup,) = target.parent.glob(f"{target.name}.*.bak")
    assert backup.read_text(encoding="utf-8") == original
    assert str(backup) in done.stdout
    if client == "vscode":
        assert [i["id"] for i in after["inputs"]] == ["other-key", f"runbridge-{KEY_ENV.lower().replace('_', '-')}"]
    again = _install(home, config, client)  # installing twice leaves one entry and one prompt
    assert again.returncode == 0, again.stderr
    twice = json.loads(target.read_text(encoding="utf-8"))
    assert twice[key] == after[key]
    assert twice.get("inputs") == after.get("inputs")


@pytest.mark.parametrize("client", CLIENTS)
def test_a_file_that_is_not_json_is_refused_and_left_untouched(client: str, tmp_path: Path, config: Path) -> None:
    home = tmp_path / "home"
    target = _target(home, client)
    target.parent.mkdir(parents=True)
    broken = '{\n  // my servers\n  "mcpServers": {\n'
    target.write_text(broken, encoding="utf-8")
    done = _install(home, config, client)
    assert done.returncode == 2
    assert "is not JSON" in done.stderr
    assert "nothing was changed" in done.stderr
    assert "Traceback" not in done.stderr
    assert target.read_text(encoding="utf-8") == broken
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


@pytest.mark.parametrize("client", CLIENTS)
def test_print_shows_the_entry_and_writes_nothing_and_never_a_key(client: str, tmp_path: Path, config: Path) -> None:
    home = tmp_path / "home"
    done = _install(home, config, client, "--print")
    assert done.returncode == 0, done.stderr
    assert not home.exists() or not any(home.rglob("*"))
    assert SECRET not in done.stdout + done.stderr
    shown = json.loads(done.stdout.split("\n", 1)[1])
    assert "runbridge" in shown[HOSTS[client].servers_key]


def test_the_command_refuses_a_file_that_is_not_json_in_one_line_and_exit_status_2(
    tmp_path: Path, config: Path
) -> None:
    home = tmp_path / "home"
    target = _target(home, "cursor")
    target.parent.mkdir(parents=True)
    target.write_text("{ not json", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "runbridge", "install", "--client", "cursor", "--config", str(config)],
        env=_env(home, **{KEY_ENV: SECRET}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"runbridge: {target} is not JSON")
    assert done.stderr.count("\n") == 1
    assert target.read_text(encoding="utf-8") == "{ not json"


def test_claude_desktop_refuses_when_the_key_is_not_set_in_the_shell(tmp_path: Path, config: Path) -> None:
    home = tmp_path / "home"
    done = _install(home, config, "claude-desktop", key=None)
    assert done.returncode == 2
    assert KEY_ENV in done.stderr
    assert "nothing was changed" in done.stderr
    assert not _target(home, "claude-desktop").exists()


@pytest.mark.anyio
async def test_the_entry_written_for_claude_desktop_starts_runbridge_as_the_host_would(
    tmp_path: Path, config: Path
) -> None:
    home = tmp_path / "home"
    done = _install(home, config, "claude-desktop")
    assert done.returncode == 0, done.stderr
    entry = json.loads(_target(home, "claude-desktop").read_text(encoding="utf-8"))["mcpServers"]["runbridge"]
    # A host starts it with its own environment, not this shell's: only what the entry carries, plus a HOME.
    params = StdioServerParameters(
        command=entry["command"], args=entry["args"], env={**entry["env"], "HOME": str(home)}, cwd=str(home)
    )
    with anyio.fail_after(40):
        async with Client(stdio_client(params)) as client:
            targets = await client.call_tool("targets_list", {})
    assert not targets.is_error, targets.content
    assert [t["id"] for t in (targets.structured_content or {})["targets"]] == ["approval-demo"]


def test_without_a_file_the_variables_of_the_families_this_shell_defines_are_passed_keys_as_keys(
    tmp_path: Path,
) -> None:
    """No runbridge.toml: the profile comes from OPENWOP_* variables, so they are passed (the key as VS Code input);
    a key of a family this shell does not define (LANGSMITH_API_KEY without LANGGRAPH_API_URL) is not."""
    home = tmp_path / "home"
    env = _env(home, OPENWOP_BASE_URL="http://127.0.0.1:9", OPENWOP_API_KEY=SECRET, LANGSMITH_API_KEY=SECRET + "2")
    done = subprocess.run(
        [sys.executable, "-m", "runbridge", "install", "--client", "vscode"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(_target(home, "vscode").read_text(encoding="utf-8"))
    entry = data["servers"]["runbridge"]
    assert entry["args"][-1] == "serve", "no configuration file, no --config"
    assert entry["env"] == {
        "OPENWOP_BASE_URL": "http://127.0.0.1:9",
        "OPENWOP_API_KEY": "${input:runbridge-openwop-api-key}",
    }
    assert [i["id"] for i in data["inputs"]] == ["runbridge-openwop-api-key"]
    assert SECRET not in done.stdout + _target(home, "vscode").read_text(encoding="utf-8")
