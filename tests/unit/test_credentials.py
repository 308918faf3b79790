"""Credentials: from an environment variable or a private token file, and never printed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from runbridge.core.config import Profile
from runbridge.core.errors import ConfigError
from runbridge.http.credentials import Secret, load_secret, write_token_file

SENTINEL = "SENTINEL-SECRET-123"


def profile(**kwargs: Any) -> Profile:
    return Profile(name="p", family="openwop", base_url="http://backend.test", **kwargs)


def token_file(tmp_path: Path, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    return path


def test_the_secret_comes_from_the_named_environment_variable() -> None:
    secret = load_secret(profile(api_key_env="OPENWOP_API_KEY"), env={"OPENWOP_API_KEY": SENTINEL})
    assert secret.value == SENTINEL
    assert secret.source == "$OPENWOP_API_KEY"
    assert secret


def test_a_missing_environment_variable_is_an_error_naming_it_but_no_value() -> None:
    env = {"OTHER_API_KEY": SENTINEL, "OPENWOP_API_KEY_OLD": SENTINEL}
    with pytest.raises(ConfigError) as caught:
        load_secret(profile(api_key_env="OPENWOP_API_KEY"), env=env)
    message = str(caught.value)
    assert "$OPENWOP_API_KEY" in message
    assert "'p'" in message
    assert SENTINEL not in message


def test_an_empty_environment_variable_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match=r"\$OPENWOP_API_KEY"):
        load_secret(profile(api_key_env="OPENWOP_API_KEY"), env={"OPENWOP_API_KEY": ""})


def test_a_missing_environment_variable_falls_back_to_the_token_file(tmp_path: Path) -> None:
    path = token_file(tmp_path, SENTINEL)
    secret = load_secret(profile(api_key_env="OPENWOP_API_KEY", token_file=path), env={})
    assert secret.value == SENTINEL
    assert secret.source == str(path)


def test_a_profile_that_names_no_secret_gets_an_empty_one() -> None:
    secret = load_secret(profile(), env={"OPENWOP_API_KEY": SENTINEL})
    assert secret.value == ""
    assert not secret


def test_a_plain_token_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = token_file(tmp_path, f"  {SENTINEL}\n")
    assert load_secret(profile(token_file=path), env={}).value == SENTINEL


def test_a_json_token_file_gives_its_access_token(tmp_path: Path) -> None:
    path = token_file(tmp_path, json.dumps({"access_token": SENTINEL, "token_type": "bearer", "expires_in": 3600}))
    assert load_secret(profile(token_file=path), env={}).value == SENTINEL


def test_a_json_token_file_may_hold_an_api_key_instead(tmp_path: Path) -> None:
    path = token_file(tmp_path, json.dumps({"api_key": SENTINEL}))
    assert load_secret(profile(token_file=path), env={}).value == SENTINEL


@pytest.mark.parametrize("content", ["", "   \n", "{}", '{"refresh_token": "r"}', '{"access_token": ""}'])
def test_a_token_file_that_holds_no_token_is_an_error_not_an_anonymous_client(tmp_path: Path, content: str) -> None:
    path = token_file(tmp_path, content)
    with pytest.raises(ConfigError, match="no token") as caught:
        load_secret(profile(token_file=path), env={})
    assert str(path) in str(caught.value)


def test_a_token_file_with_broken_json_is_an_error_that_does_not_quote_it(tmp_path: Path) -> None:
    path = token_file(tmp_path, '{"access_token": "' + SENTINEL)
    with pytest.raises(ConfigError, match="not valid JSON") as caught:
        load_secret(profile(token_file=path), env={})
    assert SENTINEL not in str(caught.value)


def test_a_missing_token_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.token"
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_secret(profile(token_file=path), env={})
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606])
def test_a_token_file_readable_by_group_or_world_is_refused_with_a_chmod_hint(tmp_path: Path, mode: int) -> None:
    path = token_file(tmp_path, SENTINEL, mode=mode)
    with pytest.raises(ConfigError, match="readable by others") as caught:
        load_secret(profile(token_file=path), env={})
    assert f"chmod 600 {path}" in str(caught.value)
    assert SENTINEL not in str(caught.value)


def test_an_owner_only_token_file_of_mode_0400_is_accepted(tmp_path: Path) -> None:
    path = token_file(tmp_path, SENTINEL, mode=0o400)
    assert load_secret(profile(token_file=path), env={}).value == SENTINEL


def test_write_token_file_creates_the_parent_directory_and_a_0600_file(tmp_path: Path) -> None:
    path = tmp_path / "config" / "runbridge" / "orchagent.token"
    write_token_file(path, SENTINEL)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert json.loads(path.read_text(encoding="utf-8")) == {"access_token": SENTINEL}
    assert load_secret(profile(token_file=path), env={}).value == SENTINEL


def test_write_token_file_tightens_an_existing_loose_file_before_writing_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = token_file(tmp_path, "old-token", mode=0o644)
    modes_while_writing: list[int] = []
    real_dump = json.dump

    def watching_dump(obj: Any, fh: Any, **kwargs: Any) -> None:
        modes_while_writing.append(stat.S_IMODE(os.stat(path).st_mode))
        real_dump(obj, fh, **kwargs)

    monkeypatch.setattr(json, "dump", watching_dump)
    write_token_file(path, SENTINEL)
    assert modes_while_writing == [0o600]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text(encoding="utf-8")) == {"access_token": SENTINEL}


def test_a_secret_never_shows_its_value_when_printed() -> None:
    secret = Secret(SENTINEL, "$OPENWOP_API_KEY")
    shown = [str(secret), repr(secret), f"{secret}", f"{secret!r}", f"{secret!s}"]
    shown += [str([secret]), repr({"key": secret}), format(secret, "")]
    for text in shown:
        assert SENTINEL not in text, text
    assert str(secret) == "***"
    assert "$OPENWOP_API_KEY" in repr(secret)


def test_redact_replaces_every_occurrence_of_the_secret() -> None:
    secret = Secret(SENTINEL)
    assert secret.redact(f"key={SENTINEL}; again {SENTINEL}!") == "key=***; again ***!"
    assert secret.redact("nothing to hide") == "nothing to hide"


def test_an_empty_secret_redacts_nothing() -> None:
    assert Secret("").redact("some text") == "some text"


def _problem(call: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize(
    "content", ["", '{"access_token": ""}', '{"access_token": "' + SENTINEL, "\udcff" + SENTINEL, SENTINEL]
)
def test_every_family_reads_a_token_file_the_same_way_and_names_the_same_problem(tmp_path: Path, content: str) -> None:
    from runbridge.backends.orchagent import TokenSource

    path = tmp_path / "token"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    path.chmod(0o644 if content == SENTINEL else 0o600)  # the last case: readable by others
    generic = _problem(lambda: load_secret(profile(token_file=path), env={}))
    orchagent = _problem(lambda: TokenSource(profile(token_file=path), env={}).get())
    assert generic.split(". ")[0] == orchagent.split(". ")[0]  # the same fact; each family adds what to do
    assert str(path) in generic
    assert SENTINEL not in generic + orchagent
    assert "Traceback" not in generic + orchagent
