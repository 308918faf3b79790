"""The secret-reference policy: tool calls can never name runbridge's own credentials (variables, token files, the
state directory, system pseudo-files, non-regular files), however the path is spelled (symlinks, `..`, `~`), and a
profile's allow-lists narrow what is left. Refusals name the reference and say why, never a value."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from runbridge.core.config import Profile, Settings
from runbridge.core.errors import ConfigError, InputError
from runbridge.core.secret_policy import SecretPolicy
from runbridge.core.threads import SecretRefs

VALUE = "SENTINEL-credential-value-4e1f"


def _private(path: Path, content: str = VALUE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own, so that `~/.orchagent/token.json` is a file the test controls."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def _profile(name: str = "p", **kwargs: Any) -> Profile:
    return Profile(name=name, family="orchagent", base_url="http://backend.test", **kwargs)


def _settings(tmp_path: Path, *profiles: Profile, state: str | None = None) -> Settings:
    state_path = state or str(tmp_path / "state" / "state.db")
    return Settings(profiles={p.name: p for p in profiles}, state_path=state_path)


def _env(**refs: str) -> SecretRefs:
    return SecretRefs(from_env={k.replace("__", "."): v for k, v in refs.items()})


def _files(**refs: str | Path) -> SecretRefs:
    return SecretRefs(from_file={k.replace("__", "."): str(v) for k, v in refs.items()})


def _refused(policy: SecretPolicy, profile: Profile, refs: SecretRefs) -> str:
    with pytest.raises(InputError) as caught:
        policy.check(profile, refs)
    message = str(caught.value)
    assert VALUE not in message
    assert message.startswith("Refused ")
    return message


# -- environment variables ---------------------------------------------------------------------------------------


def test_every_profiles_key_variable_the_http_token_variable_and_the_state_key_are_refused(tmp_path: Path) -> None:
    mine = _profile("mine", api_key_env="MINE_KEY")
    other = Profile(name="other", family="openwop", base_url="http://o.test", api_key_env="OPENWOP_API_KEY")
    policy = SecretPolicy(_settings(tmp_path, mine, other), env={}, protect_env=["RB_HTTP_TOKEN"])
    for name, why in [
        ("MINE_KEY", "credential of profile 'mine'"),
        ("OPENWOP_API_KEY", "credential of profile 'other'"),
        ("RB_HTTP_TOKEN", "bearer token"),
        ("RUNBRIDGE_STATE_KEY", "gate continuations"),
        ("ORCHAGENT_TOKEN_FILE", "orchagent's token file"),
    ]:
        message = _refused(policy, mine, _env(providers__openai__api_key=name))
        assert name in message
        assert "providers.openai.api_key" in message
        assert why in message
        assert "never sends its own credentials" in message


def test_other_variables_pass_unchanged_when_the_profile_sets_no_allow_list(tmp_path: Path) -> None:
    profile = _profile(api_key_env="MINE_KEY")
    refs = _env(providers__openai__api_key="OPENAI_API_KEY", TAVILY_API_KEY="TAVILY_API_KEY")
    assert SecretPolicy(_settings(tmp_path, profile), env={}).check(profile, refs) == refs


def test_the_allow_list_admits_names_and_glob_patterns_only_and_never_a_reserved_name(tmp_path: Path) -> None:
    profile = _profile(api_key_env="PROVIDER_MINE", allowed_secret_env=["PROVIDER_*", "TAVILY_API_KEY"])
    policy = SecretPolicy(_settings(tmp_path, profile), env={})
    ok = _env(a="PROVIDER_OPENAI", b="TAVILY_API_KEY")
    assert policy.check(profile, ok) == ok
    message = _refused(policy, profile, _env(a="HOME_TOKEN"))
    assert "HOME_TOKEN" in message
    assert "allowed_secret_env: PROVIDER_*, TAVILY_API_KEY" in message
    assert "[profiles.p]" in message
    assert "credential of profile 'p'" in _refused(policy, profile, _env(a="PROVIDER_MINE"))
    assert "provider_openai" not in _refused(policy, profile, _env(a="provider_openai")), "case counts"


def test_an_allow_list_refusal_does_not_repeat_a_name_that_may_be_a_pasted_secret(tmp_path: Path) -> None:
    profile = _profile(allowed_secret_env=["OPENAI_*"])
    pasted = "sentinel_pasted_secret_value"  # not a variable name: a value pasted in its place
    message = _refused(SecretPolicy(_settings(tmp_path, profile), env={}), profile, _env(a=pasted))
    assert pasted not in message


def test_an_empty_allow_list_refuses_every_variable(tmp_path: Path) -> None:
    profile = _profile(allowed_secret_env=[])
    assert "allowed_secret_env: none" in _refused(
        SecretPolicy(_settings(tmp_path, profile), env={}), profile, _env(a="OPENAI_API_KEY")
    )


# -- files -------------------------------------------------------------------------------------------------------


def test_token_files_are_refused_by_any_spelling_symlinks_and_dot_dots_included(tmp_path: Path, home: Path) -> None:
    token = _private(tmp_path / "creds" / "token.json")
    orchagent = _private(home / ".orchagent" / "token.json")
    profile = _profile(token_file=token)
    policy = SecretPolicy(_settings(tmp_path, profile), env={})
    link = tmp_path / "innocent.key"
    link.symlink_to(token)
    linked_dir = tmp_path / "dir-link"
    linked_dir.symlink_to(tmp_path / "creds")
    for spelling in [
        token,
        link,
        linked_dir / "token.json",
        tmp_path / "creds" / ".." / "creds" / "token.json",
        f"{tmp_path}/./creds//token.json",
    ]:
        message = _refused(policy, profile, _files(providers__openai__api_key=spelling))
        assert "token file of profile 'p'" in message
        assert str(spelling) in message
    for spelling in [orchagent, "~/.orchagent/token.json", "~/x/../.orchagent/token.json"]:
        assert "orchagent's token file" in _refused(policy, profile, _files(k=spelling))
    message = _refused(policy, profile, _files(k=link))
    assert f"resolves to {str(token)!r}" in message, "the refusal shows where a link leads"


def test_the_token_file_named_by_orchagent_token_file_is_refused(tmp_path: Path, home: Path) -> None:
    token = _private(tmp_path / "elsewhere" / "oa.json")
    profile = _profile(allowed_secret_dirs=[tmp_path])
    policy = SecretPolicy(_settings(tmp_path, profile), env={"ORCHAGENT_TOKEN_FILE": str(token)})
    assert "orchagent's token file" in _refused(policy, profile, _files(k=token))


def test_the_run_registry_and_the_request_state_key_are_refused_however_spelled(tmp_path: Path) -> None:
    key = _private(tmp_path / "state" / "request-state.key")
    for name in ["state.db", "state.db-wal", "state.db-shm"]:
        _private(tmp_path / "state" / name)
    profile = _profile()
    policy = SecretPolicy(_settings(tmp_path, profile), env={})
    spellings = [
        key,
        tmp_path / "state" / "state.db",
        tmp_path / "state" / "state.db-wal",
        tmp_path / "other" / ".." / "state" / "request-state.key",
    ]
    for spelling in spellings:
        assert "state directory" in _refused(policy, profile, _files(k=spelling))
    hidden = tmp_path / "k"
    hidden.symlink_to(key)
    assert "state directory" in _refused(policy, profile, _files(k=hidden))


def test_a_state_path_in_a_shared_folder_reserves_only_runbridges_files_there(tmp_path: Path) -> None:
    _private(tmp_path / "state" / "request-state.key")
    beside = _private(tmp_path / "state" / "openai.key", "a provider key")
    profile = _profile()
    policy = SecretPolicy(_settings(tmp_path, profile), env={})
    assert policy.check(profile, _files(k=beside)).from_file == {"k": str(beside)}
    spec = _private(tmp_path / "state" / "spec.json", "{}")
    spec_profile = _profile(allowed_spec_dirs=[tmp_path])
    assert policy.read_spec_file(spec_profile, str(spec)) == (spec, b"{}")


def test_everything_in_runbridges_own_default_state_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    anything = _private(tmp_path / "xdg" / "runbridge" / "backup.db")
    profile = _profile()
    policy = SecretPolicy(Settings(profiles={"p": profile}), env={})
    assert "state directory" in _refused(policy, profile, _files(k=anything))


def test_system_pseudo_files_and_files_that_are_not_regular_are_refused(tmp_path: Path) -> None:
    profile = _profile()
    policy = SecretPolicy(_settings(tmp_path, profile), env={})
    for system in ["/proc/self/environ", "/dev/stdin", "/sys/kernel/hostname"]:
        assert "pseudo-files" in _refused(policy, profile, _files(k=system))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused(policy, profile, _files(k=fifo))
    assert "not a regular file" in _refused(policy, profile, _files(k=tmp_path))


def test_an_allowed_file_comes_back_as_its_real_path(tmp_path: Path) -> None:
    secret = _private(tmp_path / "secrets" / "openai.key")
    link = tmp_path / "openai-link.key"
    link.symlink_to(secret)
    profile = _profile()
    checked = SecretPolicy(_settings(tmp_path, profile), env={}).check(profile, _files(k=link))
    assert checked.from_file == {"k": str(secret.resolve())}


def test_allowed_dirs_admit_files_inside_them_after_resolving_and_nothing_else(tmp_path: Path) -> None:
    allowed = tmp_path / "secrets"
    inside = _private(allowed / "openai.key")
    outside = _private(tmp_path / "outside.key")
    profile = _profile(allowed_secret_dirs=[allowed])
    policy = SecretPolicy(_settings(tmp_path, profile), env={})
    assert policy.check(profile, _files(k=inside)).from_file == {"k": str(inside.resolve())}
    escape = allowed / ".." / "outside.key"
    message = _refused(policy, profile, _files(k=escape))
    assert "allowed_secret_dirs" in message
    assert str(allowed) in message
    smuggled = allowed / "looks-inside.key"
    smuggled.symlink_to(outside)
    assert "allowed_secret_dirs" in _refused(policy, profile, _files(k=smuggled))
    sibling = _private(tmp_path / "secrets-evil" / "x.key")
    assert "allowed_secret_dirs" in _refused(policy, profile, _files(k=sibling)), "a prefix is not a directory"


def test_a_missing_file_is_an_error_naming_the_key_never_the_path(tmp_path: Path) -> None:
    profile = _profile()
    with pytest.raises(InputError, match="for k does not exist") as caught:
        SecretPolicy(_settings(tmp_path, profile), env={}).check(profile, _files(k=tmp_path / "nope.key"))
    assert "nope.key" not in str(caught.value), "what does not exist may be a secret pasted as a path"


def test_a_workflow_spec_path_naming_a_credential_file_is_refused(tmp_path: Path, home: Path) -> None:
    token = _private(tmp_path / "token.json")
    profile = _profile(token_file=token, allowed_spec_dirs=[tmp_path])
    policy = SecretPolicy(_settings(tmp_path, profile), env={})
    with pytest.raises(InputError, match="token file of profile 'p'") as caught:
        policy.read_spec_file(profile, str(tmp_path / "x" / ".." / "token.json"))
    assert VALUE not in str(caught.value)
    assert "workflow spec" in str(caught.value)
    spec = _private(tmp_path / "spec.json", "{}")
    assert policy.read_spec_file(profile, str(spec)) == (spec.resolve(), b"{}")


def test_an_in_memory_state_reserves_no_directory(tmp_path: Path) -> None:
    profile = _profile()
    secret = _private(tmp_path / "openai.key")
    policy = SecretPolicy(_settings(tmp_path, profile, state=":memory:"), env={})
    assert policy.check(profile, _files(k=secret)).from_file == {"k": str(secret.resolve())}


def test_the_allow_lists_are_checked_when_the_configuration_is_read() -> None:
    with pytest.raises(ValueError, match="absolute"):
        _profile(allowed_secret_dirs=["relative/dir"])
    with pytest.raises(ValueError, match="glob"):
        _profile(allowed_secret_env=[""])
    assert _profile(allowed_secret_dirs=["~/secrets"]).allowed_secret_dirs == [Path("~/secrets").expanduser()]


def test_the_allow_lists_come_from_runbridge_toml(tmp_path: Path) -> None:
    from runbridge.core.config import load_settings

    config = tmp_path / "runbridge.toml"
    config.write_text(
        '[profiles.oa]\nfamily = "orchagent"\nbase_url = "http://x.test"\n'
        'allowed_secret_env = ["OPENAI_*"]\nallowed_secret_dirs = ["/srv/secrets"]\n',
        encoding="utf-8",
    )
    profile = load_settings(config, env={}).profiles["oa"]
    assert profile.allowed_secret_env == ["OPENAI_*"]
    assert profile.allowed_secret_dirs == [Path("/srv/secrets")]
    config.write_text(
        '[profiles.oa]\nfamily = "orchagent"\nbase_url = "http://x.test"\nallowed_secret_dirs = ["rel"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="allowed_secret_dirs"):
        load_settings(config, env={})
