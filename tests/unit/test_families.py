"""A family is its package, its sandbox and one registry line: a tiny family registered here (a spec with a fake
adapter) is accepted by the configuration, offered by the CLI, and picked up by doctor, the secret policy and the
error mapping, with nothing else changed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import PositiveInt

from runbridge.backends import create_backend
from runbridge.cli import main
from runbridge.cli.doctor import run_doctor
from runbridge.core.config import Profile, Settings, load_settings
from runbridge.core.errors import ConfigError, InputError
from runbridge.core.families import (
    Credentials,
    DemoDefaults,
    DoctorChecks,
    ErrorInfo,
    FamilyOptions,
    FamilySpec,
    LoginFlow,
    family_names,
    register,
    unregister,
)
from runbridge.core.secret_policy import SecretPolicy
from runbridge.core.threads import SecretRefs
from runbridge.http.errors import error_for_response

TOKEN = "tiny-token-0123456789"


class TinyOptions(FamilyOptions):
    depth: PositiveInt = 1
    fast: bool = False


class TinyBackend:
    """The fake adapter: what `create_backend` builds for a tiny profile."""

    family = "tiny"

    def __init__(self, profile: Profile) -> None:
        self.options = profile.typed_options(TinyOptions)

    async def aclose(self) -> None:
        return None


def _env_profile(env: Mapping[str, str]) -> dict[str, Any] | None:
    return {"base_url": env["TINY_URL"]} if env.get("TINY_URL") else None


def _token_files(env: Mapping[str, str]) -> Mapping[str, str]:
    return {env.get("TINY_TOKEN_FILE") or "/nonexistent/tiny.token": "tiny's token file"}


def _error_shape(body: dict[str, Any]) -> ErrorInfo | None:
    oops = body.get("oops")
    return ErrorInfo(message=str(oops["why"]), code=str(oops["code"])) if isinstance(oops, dict) else None


async def _obtain(profile: Profile, email: str, password: str, register: bool) -> str:
    return TOKEN


def _spec(token_file: Path) -> FamilySpec:
    return FamilySpec(
        name="tiny",
        display_name="Tiny",
        adapter=lambda: TinyBackend,
        options=TinyOptions,
        env_vars=("TINY_URL", "TINY_TOKEN_FILE"),
        env_profile=_env_profile,
        credentials=Credentials(path_env={"TINY_TOKEN_FILE": "the path of tiny's token file"}, files=_token_files),
        error_shape=_error_shape,
        doctor=DoctorChecks(host_kind="Tiny server", api_prefixes=("/tiny/v1",)),
        login=LoginFlow(default_url="http://127.0.0.1:9", token_file=lambda profile: token_file, obtain=_obtain),
        demo=DemoDefaults(workflow="tiny-demo"),
        sandbox="openwop",
    )


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[FamilySpec]:
    spec = register(_spec(tmp_path / "tiny.token"))
    try:
        yield spec
    finally:
        unregister("tiny")


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "runbridge.toml"
    path.write_text(f'[profiles.t]\nfamily = "tiny"\nbase_url = "http://127.0.0.1:9"\n{body}', encoding="utf-8")
    return path


def test_an_unregistered_family_is_refused_naming_those_that_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_config(tmp_path, ""), env={})
    known = ", ".join(family_names())
    assert f"[profiles.t] family: unknown family 'tiny'; runbridge knows {known}" in str(refused.value)
    assert {"openwop", "orchagent", "orchestrations"} <= set(family_names())


def test_once_registered_the_configuration_takes_it_with_its_typed_options(tmp_path: Path, tiny: FamilySpec) -> None:
    assert "tiny" in family_names()
    profile = load_settings(_config(tmp_path, "options = { depth = 3 }\n"), env={}).profile("t")
    assert profile.typed_options(TinyOptions) == TinyOptions(depth=3, fast=False)
    backend = create_backend(profile)
    assert isinstance(backend, TinyBackend)
    assert backend.options.depth == 3


def test_its_options_model_refuses_a_typo_and_a_wrong_type(tmp_path: Path, tiny: FamilySpec) -> None:
    with pytest.raises(
        ConfigError, match=r"\[profiles\.t\] options\.dpeth: unknown key \(did you mean options\.depth\?\)"
    ):
        load_settings(_config(tmp_path, "options = { dpeth = 3 }\n"), env={})
    with pytest.raises(ConfigError, match=r"options\.fast: Input should be a valid boolean \(got 1\)"):
        load_settings(_config(tmp_path, "options = { fast = 1 }\n"), env={})


def test_its_environment_variables_define_a_profile_named_after_it(tiny: FamilySpec) -> None:
    settings = load_settings("", env={"TINY_URL": "http://tiny.test/"})
    assert settings.profile("tiny").family == "tiny"
    assert settings.profile("tiny").base_url == "http://tiny.test"


def test_the_cli_offers_it_for_login_logout_and_the_demo(
    tmp_path: Path, tiny: FamilySpec, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runbridge.cli.configure_logging", lambda _level: None)
    config = _config(tmp_path, "")
    assert main(["logout", "tiny", "--config", str(config)]) == 0  # its LoginFlow's token file, which is not there
    assert f"there is no token file at {tmp_path / 'tiny.token'}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["demo", "--family", "nope"])
    assert "'tiny'" in capsys.readouterr().err  # among the choices
    with pytest.raises(SystemExit):
        main(["login", "openwop"])  # a family without a sign-in is no choice
    assert "(choose from 'orchagent', 'tiny')" in capsys.readouterr().err


def test_doctor_knows_its_prefix_and_what_answers_at_its_address(
    tmp_path: Path, tiny: FamilySpec, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = Profile(name="t", family="tiny", base_url="http://127.0.0.1:9/tiny/v1")
    assert run_doctor(Settings(profiles={"t": profile}, state_path=":memory:")) == 1
    out = capsys.readouterr().out
    assert "✗ t (tiny) at http://127.0.0.1:9/tiny/v1: base_url ends in '/tiny/v1'" in out
    assert 'use base_url = "http://127.0.0.1:9"' in out


def test_the_secret_policy_protects_its_credentials(tmp_path: Path, tiny: FamilySpec) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(json.dumps({"access_token": TOKEN}), encoding="utf-8")
    copy = tmp_path / "copy.txt"
    copy.write_text(TOKEN, encoding="utf-8")
    copy.chmod(0o600)
    profile = Profile(name="t", family="tiny", base_url="http://127.0.0.1:9")
    policy = SecretPolicy(
        Settings(profiles={"t": profile}, state_path=":memory:"), env={"TINY_TOKEN_FILE": str(token_file)}
    )
    refused = [
        (SecretRefs(from_env={"key": "TINY_TOKEN_FILE"}), "holds the path of tiny's token file"),
        (SecretRefs(from_file={"key": str(token_file)}), "it is tiny's token file"),
        (SecretRefs(from_file={"key": str(copy)}), "a file holding tiny's token file"),
    ]
    for refs, said in refused:
        with pytest.raises(InputError) as caught:
            policy.check(profile, refs)
        assert said in str(caught.value)
        assert TOKEN not in str(caught.value)


def test_its_error_shape_reads_its_error_bodies(tiny: FamilySpec) -> None:
    body = json.dumps({"oops": {"why": "depth too deep", "code": "too_deep"}}).encode()
    error = error_for_response(400, httpx2.Headers(), body, backend="tiny", action="start the run")
    assert (str(error), error.code) == ("Could not start the run: depth too deep (HTTP 400, too_deep).", "too_deep")
    other = error_for_response(400, httpx2.Headers(), body, backend="openwop", action="start the run")
    assert other.code is None  # another family's bodies are not read with it
