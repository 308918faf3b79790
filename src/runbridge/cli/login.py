"""`runbridge login FAMILY` and `runbridge logout FAMILY`: the token file, without passwords in the model.

For a family whose spec has a `LoginFlow` (orchagent). The person types their email and password here, in a
terminal (the password is never echoed); the server's access token is written to the profile's token file with
mode 0600, where the adapter reads it (and re-reads it when it changes, so a running server picks up a new login).
No MCP tool ever takes a password. Logging out writes `{"access_token": ""}`, as the orchagent CLI does; without a
token file it says there was nothing to log out of and creates none.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path

import anyio

from ..core.config import Profile, Settings
from ..core.errors import ConfigError, InputError
from ..core.families import LoginFlow, find_family
from ..http import write_token_file

__all__ = ["login_profile", "run_login", "run_logout"]

Prompt = Callable[[str], str]


def _flow(family: str) -> LoginFlow:
    spec = find_family(family)
    if spec is None or spec.login is None:
        raise ConfigError(f"The {family} family has no sign-in: its profiles name their key with api_key_env.")
    return spec.login


def login_profile(settings: Settings, family: str, name: str | None) -> Profile:
    """The named profile, else the first of `family`, else the family's defaults (no configuration needed)."""
    if name is not None:
        profile = settings.profile(name)
        if profile.family != family:
            raise ConfigError(f"Profile {name!r} is of the {profile.family} family, not {family}.")
        return profile
    for profile in settings.profiles.values():
        if profile.family == family:
            return profile
    return Profile(name=family, family=family, base_url=_flow(family).default_url)


def run_login(
    profile: Profile,
    *,
    register: bool = False,
    email: str | None = None,
    ask: Prompt | None = None,
    ask_secret: Prompt | None = None,
    say: Callable[[str], object] = print,
) -> int:
    """Ask for the credentials, log in (or register), and save the token. Returns the exit status."""
    ask = ask or input  # looked up now, not at import: tests (and wrappers) replace them
    ask_secret = ask_secret or getpass.getpass
    try:
        email = (email or ask("Email: ")).strip()
        if not email:
            raise InputError("An email is required.")
        password = ask_secret("Password: ")
        if not password:
            raise InputError("A password is required.")
        if register and ask_secret("Repeat the password: ") != password:
            raise InputError("The passwords differ; nothing was registered.")
    except EOFError:
        raise InputError("No input to read the email and password from: run this in a terminal.") from None
    flow = _flow(profile.family)
    token = anyio.run(flow.obtain, profile, email, password, register)
    path = flow.token_file(profile)
    _save(path, token)
    verb = "Registered and logged in" if register else "Logged in"
    say(f"{verb} to {profile.base_url} as {email}; the token is in {path} (mode 0600).")
    return 0


def run_logout(profile: Profile, *, say: Callable[[str], object] = print) -> int:
    """Empty the token file; without one there is nothing to log out of, and nothing is created."""
    path = _flow(profile.family).token_file(profile)
    if not path.exists():
        say(f"Not logged in: there is no token file at {path}, so there was nothing to log out of.")
        return 0
    _save(path, "")
    say(f"Logged out: {path} now holds no token.")
    return 0


def _save(path: Path, token: str) -> None:
    try:
        write_token_file(path, token)
    except OSError as exc:
        raise ConfigError(f"Cannot write the token file {path} ({exc.__class__.__name__}).") from None
