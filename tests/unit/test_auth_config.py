"""`[auth]` in runbridge.toml is read strictly, like the rest of the configuration: a typo, a clear-text URL off
loopback, a scope with a space or an unsafe algorithm is an error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbridge.core.config import Settings, load_settings
from runbridge.core.errors import ConfigError

GOOD = """
[auth]
issuer = "https://id.example.com"
resource_url = "https://mcp.example.com/mcp"
required_scopes = ["runbridge"]
write_scope = "runbridge:write"
"""


def _load(tmp_path: Path, text: str) -> Settings:
    file = tmp_path / "runbridge.toml"
    file.write_text(text, encoding="utf-8")
    return load_settings(file, env={})


def test_the_auth_table_is_read_and_the_audience_defaults_to_the_resource(tmp_path: Path) -> None:
    auth = _load(tmp_path, GOOD).auth
    assert auth is not None
    assert auth.audience == "https://mcp.example.com/mcp"
    assert auth.jwks_url is None
    assert auth.required_scopes == ["runbridge"]
    assert auth.operator_scope is None  # nobody reaches the runs no user owns unless a scope is named
    assert _load(tmp_path, GOOD + 'operator_scope = "runbridge:operator"\n').auth.operator_scope == "runbridge:operator"  # type: ignore[union-attr]
    assert _load(tmp_path, "").auth is None


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('issuer = "http://id.example.com"', "issuer: must be https://"),
        ('jwks_url = "ftp://id.example.com/jwks"', "jwks_url: takes an https:// URL"),
        ('required_scopes = ["two words"]', "required_scopes"),
        ('operator_scope = "two words"', "operator_scope"),
        ('algorithms = ["HS256"]', "unknown or unsafe algorithms"),
        ('audiance = "x"', "did you mean audience?"),
        ("leeway_seconds = 9000", "leeway_seconds"),
    ],
)
def test_a_wrong_key_or_value_is_an_error_naming_it(tmp_path: Path, line: str, named: str) -> None:
    key = line.split(" ")[0]
    kept = [kept for kept in GOOD.splitlines() if not kept.startswith(key + " ")]
    text = "\n".join([*kept, line]) + "\n"
    with pytest.raises(ConfigError, match="\\[auth\\]") as caught:
        _load(tmp_path, text)
    assert named in str(caught.value)


def test_auth_under_server_or_as_a_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="table of its own"):
        _load(tmp_path, '[server]\nauth = "x"\n')
    with pytest.raises(ConfigError, match="must be a table"):
        _load(tmp_path, 'auth = "x"\n')


def test_loopback_issuers_may_use_http(tmp_path: Path) -> None:
    auth = _load(tmp_path, GOOD.replace("https://id.example.com", "http://127.0.0.1:9000")).auth
    assert auth is not None
    assert auth.issuer == "http://127.0.0.1:9000"
