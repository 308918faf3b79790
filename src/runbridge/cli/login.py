"""`runbridge login orchagent` and `runbridge logout orchagent`: the token file, without passwords in the model.

The person types their email and password here, in a terminal (the password is never echoed); the server's
access token is written to the profile's token file with mode 0600, where the orchagent adapter reads it (and
re-reads it when it changes, so a running server picks up a new login). No MCP tool ever takes a password.
Logging out writes `{"access_token": ""}`, as the orchagent CLI does; without a token file it says there was nothing
to log out of and creates none.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path

import anyio

from ..backends.orchagent import obtain_token, token_file_of
from ..core.config import ORCHAGENT_DEFAULT_URL, Profile, Settings
from ..core.errors import ConfigError, InputError
from ..http import write_token_file

__all__ = ["orchagent_profile", "run_login", "run_logout"]

Prompt = Callable[[str], str]


def orchagent_profile(settings: Settings, name: str | None) -> Profile:
    """The named profile, else the first orchagent one, else the ORCHAGENT_* defaults (no configuration needed)."""
    if name is not None:
        profile = settings.profile(name)
        if profile.family != "orchagent":
            raise ConfigError(f"Profile {name!r} is a {profile.family} profile, not an orchagent one.")
        return profile
    for profile in settings.profiles.values():
        if profile.family == "orchagent":
            return profile
    return Profile(name="orchagent", family="orchagent", base_url=ORCHAGENT_DEFAULT_URL)


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
    token = anyio.run(_obtain, profile, email, password, register)
    path = token_file_of(profile)
    _save(path, token)
    verb = "Registered and logged in" if register else "Logged in"
    say(f"{verb} to {profile.base_url} as {email}; the token is in {path} (mode 0600).")
    return 0


async def _obtain(profile: Profile, email: str, password: str, register: bool) -> str:
    return await obtain_token(profile, email, password, register=register)


def run_logout(profile: Profile, *, say: Callable[[str], object] = print) -> int:
    """Empty the token file; without one there is nothing to log out of, and nothing is created."""
    path = token_file_of(profile)
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
