"""`runbridge login orchagent` / `runbridge logout orchagent`: the password is asked with getpass (never echoed,
never an argument), the token lands in the token file with mode 0600, logout empties it. Against the orchagent
sandbox on loopback."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbridge.cli import main
from runbridge.sandbox import SandboxServer


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer("orchagent") as sb:
        yield sb


@pytest.fixture
def token_file(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ORCHAGENT_* variables point at the sandbox and a token file under tmp_path (no runbridge.toml)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBRIDGE_CONFIG", raising=False)
    monkeypatch.setenv("ORCHAGENT_BASE_URL", server.base_url)
    path = tmp_path / "home" / ".orchagent" / "token.json"
    monkeypatch.setenv("ORCHAGENT_TOKEN_FILE", str(path))
    monkeypatch.setattr("runbridge.cli.configure_logging", lambda _level: None)  # keep pytest's log capture
    return path


class Keyboard:
    """What the person types: `input` answers for visible prompts, `getpass` for hidden ones."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, visible: list[str], hidden: list[str]) -> None:
        self.visible, self.hidden = visible, hidden
        self.prompts: list[tuple[str, str]] = []
        monkeypatch.setattr("builtins.input", self._input)
        monkeypatch.setattr("getpass.getpass", self._getpass)

    def _input(self, prompt: str = "") -> str:
        self.prompts.append(("input", prompt))
        if not self.visible:
            raise EOFError
        return self.visible.pop(0)

    def _getpass(self, prompt: str = "Password: ", stream: object = None) -> str:
        self.prompts.append(("getpass", prompt))
        if not self.hidden:
            raise EOFError
        return self.hidden.pop(0)


def _token(path: Path) -> str:
    return str(json.loads(path.read_text(encoding="utf-8"))["access_token"])


def test_register_then_login_writes_the_token_file_with_mode_0600(
    token_file: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = Keyboard(monkeypatch, visible=["ana@example.com"], hidden=["correct horse", "correct horse"])
    assert main(["login", "orchagent", "--register"]) == 0
    registered = _token(token_file)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    assert keys.prompts == [("input", "Email: "), ("getpass", "Password: "), ("getpass", "Repeat the password: ")]
    token_file.chmod(0o644)  # a loosened file is tightened again by the next login
    Keyboard(monkeypatch, visible=[], hidden=["correct horse"])
    assert main(["login", "orchagent", "--email", "ana@example.com"]) == 0
    logged_in = _token(token_file)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    out = capsys.readouterr()
    assert registered
    assert logged_in != registered
    assert "correct horse" not in out.out + out.err
    assert logged_in not in out.out + out.err
    assert str(token_file) in out.out
    assert server.call(lambda: len(server.apps["orchagent"].state.orchagent.tokens)) >= 2  # type: ignore[attr-defined]


def test_logout_leaves_an_empty_token(token_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Keyboard(monkeypatch, visible=["bo@example.com"], hidden=["pw-bo", "pw-bo"])
    assert main(["login", "orchagent", "--register"]) == 0
    assert main(["logout", "orchagent"]) == 0
    assert json.loads(token_file.read_text(encoding="utf-8")) == {"access_token": ""}
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_logout_without_a_token_file_says_so_and_creates_nothing(
    token_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logout", "orchagent"]) == 0
    out = capsys.readouterr().out
    assert not token_file.exists()
    assert not token_file.parent.exists(), "not even its directory"
    assert f"Not logged in: there is no token file at {token_file}, so there was nothing to log out of." in out


def test_logout_tightens_a_loosened_token_file_while_emptying_it(token_file: Path) -> None:
    token_file.parent.mkdir(parents=True)
    token_file.write_text('{"access_token": "tok-old"}', encoding="utf-8")
    token_file.chmod(0o644)
    assert main(["logout", "orchagent"]) == 0
    assert json.loads(token_file.read_text(encoding="utf-8")) == {"access_token": ""}
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_a_wrong_password_is_one_clear_line_and_leaves_the_token_file_alone(
    token_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Keyboard(monkeypatch, visible=["cy@example.com"], hidden=["right-pw", "right-pw"])
    assert main(["login", "orchagent", "--register"]) == 0
    before = token_file.read_text(encoding="utf-8")
    capsys.readouterr()
    Keyboard(monkeypatch, visible=["cy@example.com"], hidden=["wrong-pw"])
    assert main(["login", "orchagent"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "runbridge: Wrong email or password (HTTP 401)."
    assert token_file.read_text(encoding="utf-8") == before


def test_registering_twice_or_with_different_passwords_is_refused(
    token_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Keyboard(monkeypatch, visible=["di@example.com"], hidden=["a-pw", "another-pw"])
    assert main(["login", "orchagent", "--register"]) == 2
    assert "passwords differ" in capsys.readouterr().err
    assert not token_file.exists()
    Keyboard(monkeypatch, visible=["di@example.com"], hidden=["a-pw", "a-pw"])
    assert main(["login", "orchagent", "--register"]) == 0
    Keyboard(monkeypatch, visible=["di@example.com"], hidden=["a-pw", "a-pw"])
    assert main(["login", "orchagent", "--register"]) == 2
    assert "already registered" in capsys.readouterr().err


def test_no_terminal_input_is_a_clear_error(
    token_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Keyboard(monkeypatch, visible=[], hidden=[])
    assert main(["login", "orchagent"]) == 2
    assert "run this in a terminal" in capsys.readouterr().err


def test_login_uses_the_configured_orchagent_profile(
    server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runbridge.cli.configure_logging", lambda _level: None)
    for name in ("ORCHAGENT_BASE_URL", "ORCHAGENT_TOKEN_FILE", "ORCHAGENT_TIMEOUT", "RUNBRIDGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    token_file = tmp_path / "work.token"
    config = tmp_path / "runbridge.toml"
    config.write_text(
        f'[profiles.work]\nfamily = "orchagent"\nbase_url = "{server.base_url}"\ntoken_file = "{token_file}"\n',
        encoding="utf-8",
    )
    Keyboard(monkeypatch, visible=["ed@example.com"], hidden=["pw-ed", "pw-ed"])
    assert main(["--config", str(config), "login", "orchagent", "--register", "--profile", "work"]) == 0
    assert _token(token_file)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
