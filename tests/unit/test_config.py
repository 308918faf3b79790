"""Configuration: `runbridge.toml` profiles, environment shortcuts, and errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbridge.core.config import DEFAULT_TOOLSETS, Settings, load_settings
from runbridge.core.errors import ConfigError, InputError, UnknownProfileError
from runbridge.core.families import family_names

TWO_PROFILES = """
[server]
default_profile = "hosted"
toolsets = ["profiles", "runs", "gates"]
read_only = true
wait_seconds = 5

[profiles.local]
family = "openwop"
base_url = "http://127.0.0.1:8787/"
api_key_env = "OPENWOP_API_KEY"
workflows = ["approval-demo"]

[profiles.hosted]
family = "orchagent"
base_url = "https://orchagent.example"
token_file = "~/.config/runbridge/orchagent.token"
read_timeout = 60
"""


def write(tmp_path: Path, text: str, name: str = "runbridge.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert "Traceback" not in message
    assert "pydantic" not in message
    # No chained exception: the person sees one sentence, not a pydantic or tomllib traceback.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return message


def test_a_valid_file_with_two_profiles_loads_both(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_PROFILES), env={})
    assert sorted(settings.profiles) == ["hosted", "local"]
    local, hosted = settings.profiles["local"], settings.profiles["hosted"]
    assert local.name == "local"
    assert local.family == "openwop"
    assert local.base_url == "http://127.0.0.1:8787"
    assert local.api_key_env == "OPENWOP_API_KEY"
    assert local.workflows == ["approval-demo"]
    assert hosted.family == "orchagent"
    assert hosted.read_timeout == 60.0
    assert hosted.token_file == Path("~/.config/runbridge/orchagent.token").expanduser()
    assert settings.default_profile == "hosted"
    assert settings.toolsets == frozenset({"profiles", "runs", "gates"})
    assert settings.read_only is True
    assert settings.wait_seconds == 5.0


def test_settings_profile_none_picks_the_configured_default(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_PROFILES), env={})
    assert settings.profile(None).name == "hosted"
    assert settings.profile("local").name == "local"


def test_settings_profile_none_picks_the_first_profile_when_no_default_is_set(tmp_path: Path) -> None:
    text = TWO_PROFILES.replace('default_profile = "hosted"\n', "")
    assert load_settings(write(tmp_path, text), env={}).profile(None).name == "local"


def test_an_unknown_profile_lists_the_configured_ones(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_PROFILES), env={})
    with pytest.raises(UnknownProfileError, match="'staging'") as caught:
        settings.profile("staging")
    assert isinstance(caught.value, InputError)
    assert "hosted, local" in str(caught.value)


def test_asking_for_a_profile_when_none_is_configured_says_how_to_add_one() -> None:
    with pytest.raises(UnknownProfileError, match=r"\[profiles\.NAME\]"):
        Settings().profile(None)


def test_a_missing_config_path_is_an_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "runbridge.toml"
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_settings(missing, env={})
    assert str(missing) in str(caught.value)


def test_a_config_path_that_is_a_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is not a file: point --config / RUNBRIDGE_CONFIG at the \.toml file"):
        load_settings(tmp_path)


def test_a_missing_file_named_by_runbridge_config_is_an_error_too(tmp_path: Path) -> None:
    missing = tmp_path / "gone.toml"
    with pytest.raises(ConfigError, match=r"gone\.toml"):
        load_settings(None, env={"RUNBRIDGE_CONFIG": str(missing)})


def test_runbridge_config_names_the_file_when_no_path_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_PROFILES, name="elsewhere.toml")
    assert sorted(load_settings(None, env={"RUNBRIDGE_CONFIG": str(path)}).profiles) == ["hosted", "local"]


def test_no_file_at_all_is_fine_and_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={})
    assert settings.profiles == {}
    assert settings.toolsets == DEFAULT_TOOLSETS


def test_runbridge_toml_in_the_working_directory_is_read_when_nothing_names_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, TWO_PROFILES)
    monkeypatch.chdir(tmp_path)
    assert sorted(load_settings(None, env={}).profiles) == ["hosted", "local"]


def test_invalid_toml_is_an_error_with_the_file_and_the_line(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.a]\nfamily = "openwop"\nbase_url = http://oops\n')
    assert "runbridge.toml" in message
    assert "not valid TOML" in message
    assert "line 3" in message


def test_an_unknown_family_is_an_error_naming_the_profile_and_the_choices(tmp_path: Path) -> None:
    text = '[profiles.good]\nfamily = "openwop"\nbase_url = "http://a"\n[profiles.bad]\nfamily = "temporal"\nbase_url = "http://b"\n'
    message = config_error(tmp_path, text)
    assert "[profiles.bad]" in message
    assert "family" in message
    assert f"unknown family 'temporal'; runbridge knows {', '.join(family_names())}." in message
    assert {"openwop", "orchagent", "orchestrations"} <= set(family_names())


@pytest.mark.parametrize("family", ["platform", "orq"])
def test_the_hosted_agent_platforms_are_families_a_profile_may_name(tmp_path: Path, family: str) -> None:
    path = tmp_path / "runbridge.toml"
    path.write_text(f'[profiles.p]\nfamily = "{family}"\nbase_url = "http://a"\n', encoding="utf-8")
    assert load_settings(path, env={}).profiles["p"].family == family


def test_a_base_url_without_a_scheme_is_an_error_saying_what_it_must_start_with(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.p]\nfamily = "openwop"\nbase_url = "127.0.0.1:8787"\n')
    assert "[profiles.p] base_url" in message
    assert "http:// or https://" in message


def test_a_misspelt_profile_key_is_an_error_naming_the_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.p]\nfamily = "openwop"\nbase_url = "http://a"\napi_key_var = "K"\n')
    assert "[profiles.p] api_key_var" in message


def test_a_misspelt_key_names_the_nearest_known_one(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.p]\nfamily = "openwop"\nbase_url = "http://a"\nworkflow = ["x"]\n')
    assert message.endswith("[profiles.p] workflow: unknown key (did you mean workflows?).")
    server = config_error(tmp_path, "[server]\nwait_second = 3\nreadonly = true\n")
    assert "wait_second: unknown key (did you mean wait_seconds?); readonly: unknown key (did you mean read_only?)" in (
        server
    )


def test_an_unknown_key_like_no_known_one_lists_the_known_keys(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.p]\nfamily = "openwop"\nbase_url = "http://a"\ncolour = 1\n')
    known = "allowed_secret_dirs, allowed_secret_env, allowed_spec_dirs, api_key_env,"
    assert f"colour: unknown key (known keys: {known}" in message
    assert "Extra inputs" not in message


def test_a_value_error_reads_without_the_validation_librarys_prefix(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.p]\nfamily = "openwop"\nbase_url = "ftp://a"\n')
    assert "Value error" not in message


def test_a_profile_that_is_not_a_table_is_an_error_naming_it(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles]\nlocal = "http://127.0.0.1:8787"\n')
    assert "[profiles.local] must be a table" in message


@pytest.mark.parametrize("text", ["server = 1\n", 'server = "local"\n'])
def test_a_server_key_that_is_not_a_table_is_a_config_error(tmp_path: Path, text: str) -> None:
    assert "[server]" in config_error(tmp_path, text)


def test_a_profiles_key_that_is_not_a_table_is_a_config_error(tmp_path: Path) -> None:
    assert "[profiles.NAME]" in config_error(tmp_path, 'profiles = ["local"]\n')


def test_an_unknown_toolset_is_an_error_listing_the_known_ones(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[server]\ntoolsets = ["runs", "telepathy"]\n')
    assert "telepathy" in message
    assert "'gates'" in message
    assert "'runs'" in message


def test_toolsets_given_as_one_string_is_an_error_with_an_example(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[server]\ntoolsets = "runs"\n')
    assert 'toolsets = ["runs", "gates"]' in message


def test_an_unknown_server_key_is_an_error_naming_it(tmp_path: Path) -> None:
    assert "wiat_seconds" in config_error(tmp_path, "[server]\nwiat_seconds = 3\n")


def test_an_unknown_top_level_table_is_an_error_naming_it_and_the_valid_ones(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profile.local]\nfamily = "openwop"\n')
    assert "'profile'" in message
    assert "[server]" in message
    assert "[profiles.NAME]" in message


def test_a_default_profile_that_is_not_configured_is_an_error_listing_the_configured_ones(tmp_path: Path) -> None:
    message = config_error(tmp_path, TWO_PROFILES.replace('default_profile = "hosted"', 'default_profile = "prod"'))
    assert "'prod'" in message
    assert "hosted, local" in message


def test_openwop_base_url_in_the_environment_creates_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"OPENWOP_BASE_URL": "http://127.0.0.1:9000/", "OPENWOP_WORKFLOWS": "a, b,,"}
    settings = load_settings(None, env=env)
    profile = settings.profile(None)
    assert profile.name == "openwop"
    assert profile.family == "openwop"
    assert profile.base_url == "http://127.0.0.1:9000"
    assert profile.api_key_env == "OPENWOP_API_KEY"
    assert profile.workflows == ["a", "b"]


def test_a_file_profile_of_the_same_name_wins_over_the_environment_shortcut(tmp_path: Path) -> None:
    path = write(tmp_path, '[profiles.openwop]\nfamily = "openwop"\nbase_url = "http://from-file"\n')
    settings = load_settings(path, env={"OPENWOP_BASE_URL": "http://from-env"})
    assert settings.profiles["openwop"].base_url == "http://from-file"


def test_the_environment_shortcut_sits_beside_the_file_profiles(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_PROFILES), env={"OPENWOP_BASE_URL": "http://127.0.0.1:1"})
    assert sorted(settings.profiles) == ["hosted", "local", "openwop"]


def test_a_bad_environment_shortcut_names_the_variables_not_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="OPENWOP_") as caught:
        load_settings(None, env={"OPENWOP_BASE_URL": "localhost:8787"})
    assert "runbridge.toml" not in str(caught.value)
    assert "http://" in str(caught.value)
