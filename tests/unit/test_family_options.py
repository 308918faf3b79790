"""`[profiles.NAME.options]` of every family, validated with the family's model when the configuration is read: a
typo names the nearest key, a wrong type names the profile, the key and what it takes, and valid options come back
typed and unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runbridge.backends.openwop.spec import OpenWopOptions
from runbridge.backends.orchagent.spec import OrchagentOptions
from runbridge.backends.orchestrations.spec import OrchestrationsOptions
from runbridge.core.config import Profile, load_settings
from runbridge.core.errors import ConfigError
from runbridge.core.families import FamilyOptions, registered_families


def _load(tmp_path: Path, family: str, options: str) -> Profile:
    path = tmp_path / "runbridge.toml"
    path.write_text(
        f'[profiles.p]\nfamily = "{family}"\nbase_url = "http://127.0.0.1:9"\n[profiles.p.options]\n{options}\n',
        encoding="utf-8",
    )
    return load_settings(path, env={}).profile("p")


def _refused(tmp_path: Path, family: str, options: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, family, options)
    message = str(caught.value)
    assert "Traceback" not in message
    assert "pydantic" not in message
    assert caught.value.__cause__ is None
    return message


VALID: list[tuple[str, str, FamilyOptions]] = [
    ("openwop", "protocol_version = 2", OpenWopOptions(protocol_version=2)),
    ("openwop", 'protocol_version = "1.0"', OpenWopOptions(protocol_version=1)),
    ("openwop", "", OpenWopOptions()),
    (
        "orchagent",
        'status_idle_seconds = 0.1\nstatus_budget_seconds = 5\nsecrets_from_env = { "providers.openai.api_key" = '
        '"OPENAI_API_KEY" }\nsecrets_from_file = { TAVILY_API_KEY = "/run/secrets/tavily" }',
        OrchagentOptions(
            status_idle_seconds=0.1,
            status_budget_seconds=5,
            secrets_from_env={"providers.openai.api_key": "OPENAI_API_KEY"},
            secrets_from_file={"TAVILY_API_KEY": "/run/secrets/tavily"},
        ),
    ),
    ("orchagent", "", OrchagentOptions()),
    (
        "orchestrations",
        'api_versions = ["v1", "v2"]\nstream = false',
        OrchestrationsOptions(api_versions=["v1", "v2"], stream=False),
    ),
    ("orchestrations", "", OrchestrationsOptions()),
]


@pytest.mark.parametrize(("family", "options", "typed"), VALID)
def test_valid_options_come_back_typed(tmp_path: Path, family: str, options: str, typed: FamilyOptions) -> None:
    profile = _load(tmp_path, family, options)
    assert profile.options == typed
    assert profile.typed_options(type(typed)) is profile.options
    # A round trip through the dumped profile gives the same options again.
    again = Profile.model_validate(profile.model_dump())
    assert again.options == typed


TYPOS = [
    (
        "openwop",
        "protocol_versoin = 2",
        "options.protocol_versoin: unknown key (did you mean options.protocol_version?)",
    ),
    (
        "orchagent",
        "typo_option = 1",
        "options.typo_option: unknown key (known keys: secrets_from_env, secrets_from_file",
    ),
    ("orchagent", "status_idle_second = 1", "(did you mean options.status_idle_seconds?)"),
    ("orchestrations", "api_version = ['v1']", "options.api_version: unknown key (did you mean options.api_versions?)"),
    ("orchestrations", "streams = true", "options.streams: unknown key (did you mean options.stream?)"),
]


@pytest.mark.parametrize(("family", "options", "said"), TYPOS)
def test_an_unknown_key_is_refused_with_the_nearest_one(tmp_path: Path, family: str, options: str, said: str) -> None:
    message = _refused(tmp_path, family, options)
    assert message.startswith(f"{tmp_path / 'runbridge.toml'}: [profiles.p] ")
    assert said in message


WRONG = [
    ("openwop", "protocol_version = 3", "options.protocol_version: must be 1 or 2"),
    ("openwop", 'protocol_version = "two"', "options.protocol_version: must be 1 or 2"),
    (
        "orchagent",
        'status_idle_seconds = "soon"',
        "options.status_idle_seconds: Input should be a valid number (got 'soon')",
    ),
    ("orchagent", "status_budget_seconds = 0", "options.status_budget_seconds: Input should be greater than 0 (got 0)"),
    (
        "orchagent",
        "status_idle_seconds = true",
        "options.status_idle_seconds: Input should be a valid number (got True)",
    ),
    ("orchagent", 'secrets_from_env = { "a..b" = "X" }', "'a..b' is not a secret key path"),
    ("orchestrations", 'api_versions = ["v3"]', "options.api_versions.0: Input should be 'v1' or 'v2' (got 'v3')"),
    ("orchestrations", "api_versions = []", "options.api_versions: List should have at least 1 item"),
    ("orchestrations", 'stream = "yes"', "options.stream: Input should be a valid boolean (got 'yes')"),
]


@pytest.mark.parametrize(("family", "options", "said"), WRONG)
def test_a_wrong_type_names_the_profile_the_key_and_what_it_takes(
    tmp_path: Path, family: str, options: str, said: str
) -> None:
    message = _refused(tmp_path, family, options)
    assert "[profiles.p] " in message
    assert said in message


def test_a_pasted_secret_is_not_echoed(tmp_path: Path) -> None:
    secret = "sk-live-0123456789abcdefghijklmnop"
    message = _refused(tmp_path, "orchagent", f'status_idle_seconds = "{secret}"')
    assert secret not in message
    assert f"(got a string of {len(secret)} characters)" in message
    message = _refused(tmp_path, "orchagent", f'secrets_from_env = {{ TAVILY_API_KEY = "{secret}" }}')
    assert secret not in message


def test_options_must_be_a_table(tmp_path: Path) -> None:
    path = tmp_path / "runbridge.toml"
    path.write_text('[profiles.p]\nfamily = "openwop"\nbase_url = "http://a"\noptions = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[profiles\.p\] options: Input should be a valid dictionary"):
        load_settings(path, env={})


@pytest.mark.parametrize("spec", registered_families(), ids=lambda spec: spec.name)
def test_every_family_refuses_unknown_keys(tmp_path: Path, spec: Any) -> None:
    message = _refused(tmp_path, spec.name, "surely_not_an_option = 1")
    assert "options.surely_not_an_option: unknown key" in message
