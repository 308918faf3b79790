"""`[server] state_url` names the Redis run store: a Redis URL without a password (that comes from
$RUNBRIDGE_REDIS_PASSWORD); anything else is refused when the file is read, without echoing the value; without the
optional `redis` package it is a configuration error saying what to install; without it SQLite stays the store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runbridge.bridge.app import open_store
from runbridge.core.config import Settings, load_settings
from runbridge.core.errors import ConfigError
from runbridge.state import SqliteStore


def _load(tmp_path: Path, url: str) -> Settings:
    file = tmp_path / "runbridge.toml"
    file.write_text(f'[server]\nstate_url = "{url}"\n', encoding="utf-8")
    return load_settings(file, env={})


def test_a_redis_url_is_taken_and_makes_the_store_shared(tmp_path: Path) -> None:
    settings = _load(tmp_path, "redis://10.0.0.5:6379/2")
    assert settings.state_url == "redis://10.0.0.5:6379/2"
    assert settings.shared_state
    assert not Settings().shared_state


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("redis://:hunter2-secret@10.0.0.5:6379/0", "must not hold a password: put it in $RUNBRIDGE_REDIS_PASSWORD"),
        ("postgres://10.0.0.5/db", "takes a Redis URL, redis://HOST:PORT/DB"),
        ("10.0.0.5:6379", "takes a Redis URL, redis://HOST:PORT/DB"),
    ],
)
def test_anything_but_a_redis_url_without_a_password_is_refused_without_echoing_it(
    tmp_path: Path, url: str, said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, url)
    assert said in str(caught.value)
    assert "state_url" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_without_the_redis_package_state_url_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _load(tmp_path, "redis://127.0.0.1:1/0")
    for name in [m for m in sys.modules if m == "redis" or m.startswith(("redis.", "runbridge.state.redis_"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # an import of it fails, as where the extra is not installed
    with pytest.raises(ConfigError, match=r"pip install 'runbridge\[redis\]'"):
        open_store(settings)


def test_without_state_url_the_store_is_the_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(state_path=str(tmp_path / "state.db"))
    store = open_store(settings)
    assert isinstance(store, SqliteStore)
    store.close()
