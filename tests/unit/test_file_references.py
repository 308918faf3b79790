"""Files a tool call names (a workflow spec, a secret file) cannot leak runbridge's credentials: a file holding one
is refused whatever its name, as are MCP hosts' configuration files and any hard link to a reserved file; spec files
come only from allowed directories; the file read is the file checked; and a refusal never repeats a value."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from runbridge.backends.orchagent.secrets import resolve
from runbridge.core import file_guard
from runbridge.core.config import Profile, Settings, load_settings
from runbridge.core.errors import ConfigError, InputError
from runbridge.core.secret_policy import SecretPolicy
from runbridge.core.threads import SecretRefs

KEY = "SENTINEL-loaded-key-7d21"
TOKEN = "SENTINEL-orchagent-token-93b0"
BEARER = "SENTINEL-http-bearer-55aa"
STATE = "SENTINEL-state-key-0123456789abcdef"


def _write(path: Path, content: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def _policy(tmp_path: Path, home: Path, *, config: Path | None = None, **profile: Any) -> tuple[SecretPolicy, Profile]:
    token = _write(tmp_path / "creds" / "token.json", json.dumps({"access_token": TOKEN}))
    oa = Profile(name="oa", family="orchagent", base_url="http://oa.test", token_file=token, **profile)
    wop = Profile(name="wop", family="openwop", base_url="http://wop.test", api_key_env="WOP_KEY")
    settings = Settings(
        profiles={"oa": oa, "wop": wop}, state_path=str(tmp_path / "state" / "state.db"), config_file=config
    )
    env = {"HOME": str(home), "WOP_KEY": KEY, "RB_TOKEN": BEARER, "RUNBRIDGE_STATE_KEY": STATE}
    return SecretPolicy(settings, env=env, protect_env=["RB_TOKEN"]), oa


def _refused_secret(policy: SecretPolicy, profile: Profile, path: Path | str) -> str:
    with pytest.raises(InputError) as caught:
        policy.check(profile, SecretRefs(from_file={"k": str(path)}))
    message = str(caught.value)
    for value in (KEY, TOKEN, BEARER, STATE):
        assert value not in message
    return message


def _refused_spec(policy: SecretPolicy, profile: Profile, path: Path | str) -> str:
    with pytest.raises(InputError) as caught:
        policy.read_spec_file(profile, str(path))
    message = str(caught.value)
    for value in (KEY, TOKEN, BEARER, STATE):
        assert value not in message
    return message


@pytest.mark.parametrize(
    ("content", "holds"),
    [
        (f'{{"mcpServers": {{"runbridge": {{"env": {{"WOP_KEY": "{KEY}"}}}}}}}}', "credential of profile 'wop'"),
        (f"token={TOKEN}\n", "token file of profile 'oa'"),
        (f"Bearer {BEARER}", "bearer token"),
        (json.dumps({"x": STATE}), "gate continuations"),
    ],
)
def test_a_file_holding_a_loaded_credential_is_refused_whatever_its_name(
    tmp_path: Path, home: Path, content: str, holds: str
) -> None:
    policy, oa = _policy(tmp_path, home, allowed_spec_dirs=[tmp_path])
    innocent = _write(tmp_path / "specs" / "workflow.json", content)
    for message in (_refused_secret(policy, oa, innocent), _refused_spec(policy, oa, innocent)):
        assert "Refused" in message
        assert holds in message


def test_a_credential_escaped_by_json_is_found_too(tmp_path: Path, home: Path) -> None:
    policy, oa = _policy(tmp_path, home)
    odd = 'SENTINEL-with/"quote'
    policy = SecretPolicy(
        Settings(profiles={"oa": oa}, state_path=":memory:"), env={"HOME": str(home), "K": odd}, protect_env=["K"]
    )
    escaped = _write(tmp_path / "escaped.json", json.dumps({"k": odd}))
    assert "bearer token" in _refused_secret(policy, oa, escaped)


@pytest.mark.parametrize(
    "where",
    [
        "x/claude_desktop_config.json",
        ".config/Claude/claude_desktop_config.json",
        "Library/Application Support/Claude/claude_desktop_config.json",
        "AppData/Roaming/Claude/claude_desktop_config.json",
        ".claude.json",
        ".claude.json.backup",
        "project/.mcp.json",
        ".cursor/mcp.json",
        "project/.cursor/mcp.json",
        "project/.vscode/mcp.json",
        ".config/Code/User/mcp.json",
        ".codeium/windsurf/mcp_config.json",
        "elsewhere/runbridge.toml",
    ],
)
def test_mcp_host_configuration_files_are_refused_by_name_and_place(tmp_path: Path, home: Path, where: str) -> None:
    policy, oa = _policy(tmp_path, home, allowed_spec_dirs=[home])
    host_file = _write(home / where, '{"mcpServers": {}}')
    assert "configuration" in _refused_secret(policy, oa, host_file)
    link = home / "innocent.key"
    link.symlink_to(host_file)
    assert "configuration" in _refused_secret(policy, oa, link), "a symlink leads to the host's file"
    if host_file.suffix == ".json":
        assert "configuration" in _refused_spec(policy, oa, host_file)


def test_a_hard_link_to_a_reserved_file_is_refused_by_device_and_inode(tmp_path: Path, home: Path) -> None:
    config = _write(tmp_path / "conf" / "rb.toml", "[server]\n")
    policy, oa = _policy(tmp_path, home, config=config, allowed_spec_dirs=[tmp_path])
    claude = _write(home / ".claude.json", "{}")
    _write(tmp_path / "state" / "request-state.key", "short")  # too short to count as content: found by inode
    for number, (reserved, what) in enumerate(
        [
            (tmp_path / "creds" / "token.json", "token file of profile 'oa'"),
            (claude, "Claude Code"),
            (config, "runbridge.toml this server read"),
            (tmp_path / "state" / "request-state.key", "gate continuations"),
        ]
    ):
        linked = tmp_path / "links" / f"workflow-{number}.json"
        linked.parent.mkdir(exist_ok=True)
        os.link(reserved, linked)
        secret = _refused_secret(policy, oa, linked)
        assert "hard link" in secret
        assert what in secret
        assert "hard link" in _refused_spec(policy, oa, linked)


def test_spec_files_come_from_runbridge_tomls_directory_and_allowed_spec_dirs_only(tmp_path: Path, home: Path) -> None:
    config = _write(tmp_path / "conf" / "rb.toml", "[server]\n")
    extra = tmp_path / "workflows"
    policy, oa = _policy(tmp_path, home, config=config, allowed_spec_dirs=[extra])
    beside = _write(tmp_path / "conf" / "sub" / "a.json", "{}")
    listed = _write(extra / "b.json", "{}")
    assert policy.read_spec_file(oa, str(beside)) == (beside, b"{}")
    assert policy.read_spec_file(oa, str(listed)) == (listed, b"{}")
    outside = _write(tmp_path / "elsewhere" / "c.json", "{}")
    message = _refused_spec(policy, oa, outside)
    assert "reads spec files only from" in message
    assert str(tmp_path / "conf") in message
    assert "allowed_spec_dirs in [profiles.oa]" in message
    escape = extra / "link.json"
    escape.symlink_to(outside)
    assert "reads spec files only from" in _refused_spec(policy, oa, escape), "a symlink out is outside"


def test_without_a_configuration_file_only_runbridge_spec_dirs_is_allowed(tmp_path: Path, home: Path) -> None:
    oa = Profile(name="oa", family="orchagent", base_url="http://oa.test")
    settings = Settings(profiles={"oa": oa}, state_path=":memory:")
    first, second = tmp_path / "one", tmp_path / "two"
    spec = _write(second / "w.json", "{}")
    none = SecretPolicy(settings, env={"HOME": str(home)})
    message = _refused_spec(none, oa, spec)
    assert "no directory (none is configured)" in message
    assert "$RUNBRIDGE_SPEC_DIRS" in message
    named = SecretPolicy(settings, env={"HOME": str(home), "RUNBRIDGE_SPEC_DIRS": f"{first}{os.pathsep}{second}"})
    assert named.read_spec_file(oa, str(spec)) == (spec, b"{}")
    relative = SecretPolicy(settings, env={"HOME": str(home), "RUNBRIDGE_SPEC_DIRS": "two"})
    assert "none is configured" in _refused_spec(relative, oa, spec), "relative entries are ignored"


def test_load_settings_records_the_file_it_read_and_the_file_cannot_set_it(tmp_path: Path) -> None:
    config = _write(tmp_path / "runbridge.toml", '[profiles.oa]\nfamily = "orchagent"\nbase_url = "http://x.test"\n')
    assert load_settings(config, env={}).config_file == config.resolve()
    _write(config, f'[server]\nconfig_file = "{tmp_path}/other.toml"\n')
    with pytest.raises(ConfigError, match="config_file"):
        load_settings(config, env={})
    dirs = '[profiles.oa]\nfamily = "orchagent"\nbase_url = "http://x.test"\nallowed_spec_dirs = ["rel"]\n'
    _write(config, dirs)
    with pytest.raises(ConfigError, match="allowed_spec_dirs holds absolute"):
        load_settings(config, env={})


def test_a_refusal_never_repeats_a_path_that_does_not_exist(tmp_path: Path, home: Path) -> None:
    policy, oa = _policy(tmp_path, home, allowed_spec_dirs=[tmp_path])
    pasted = "sk-SENTINEL-pasted-secret-3f9c"
    for attempt in (pasted, f"{pasted}.json", f"~/{pasted}"):
        with pytest.raises(InputError) as caught:
            policy.check(oa, SecretRefs(from_file={"providers.openai.api_key": attempt}))
        message = str(caught.value)
        assert pasted not in message
        assert "providers.openai.api_key does not exist" in message
        assert pasted not in _refused_spec(policy, oa, attempt)
    with pytest.raises(InputError, match="NUL byte") as caught:
        policy.check(oa, SecretRefs(from_file={"k": f"{pasted}\x00"}))
    assert pasted not in str(caught.value)


def test_a_fifo_or_directory_named_as_a_spec_is_refused_without_blocking(tmp_path: Path, home: Path) -> None:
    policy, oa = _policy(tmp_path, home, allowed_spec_dirs=[tmp_path])
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused_spec(policy, oa, fifo)
    (tmp_path / "dir.json").mkdir()
    assert "not a regular file" in _refused_spec(policy, oa, tmp_path / "dir.json")


def test_a_secret_file_swapped_after_the_check_is_never_read(tmp_path: Path, home: Path) -> None:
    policy, oa = _policy(tmp_path, home)
    secret = _write(tmp_path / "keys" / "openai.key", "SENTINEL-provider-key")
    checked = policy.check(oa, SecretRefs(from_file={"k": str(secret)}))
    assert resolve(checked, {}) == {"k": "SENTINEL-provider-key"}
    swapped = _write(tmp_path / "keys" / "other.key", "SENTINEL-swapped-in")
    os.replace(swapped, secret)  # the same path now names another file
    with pytest.raises(InputError, match="changed after it was checked") as caught:
        resolve(checked, {})
    assert "SENTINEL" not in str(caught.value)
    over = SecretRefs().over(checked)
    assert over.file_ids == checked.file_ids, "the binding survives merging with a profile's references"


def test_a_spec_folder_swapped_for_a_symlink_after_the_check_is_refused_where_the_file_really_is(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(tmp_path / "conf" / "rb.toml", "[server]\n")
    policy, oa = _policy(tmp_path, home, config=config)
    spec = _write(tmp_path / "conf" / "flows" / "a.json", "{}")
    outside = _write(tmp_path / "elsewhere" / "a.json", '{"leak": true}')
    real_open = file_guard.os.open

    def swap_then_open(path: Any, flags: int, *args: Any) -> int:
        # Between the path check and the open, the allowed folder becomes a symlink to one outside.
        if Path(path) == spec:
            (tmp_path / "conf" / "flows" / "a.json").unlink()
            (tmp_path / "conf" / "flows").rmdir()
            (tmp_path / "conf" / "flows").symlink_to(outside.parent)
        return real_open(path, flags, *args)

    monkeypatch.setattr(file_guard.os, "open", swap_then_open)
    message = _refused_spec(policy, oa, spec)
    assert "reads spec files only from" in message
