"""The orchagent bearer token: where it is read from, and how `runbridge login` obtains one.

The token is the `access_token` of the token file (`{"access_token": ...}`, as the orchagent SDK writes it; a bare
token works too) named by the profile, else `$ORCHAGENT_TOKEN_FILE`, else `~/.orchagent/token.json`; or the
variable named by the profile's `api_key_env`. The file is re-read when it changes, so `runbridge login orchagent`
takes effect in a server that is already running. A password never passes through here except in `obtain_token`,
which the CLI calls with what the person typed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ...core.config import Profile
from ...core.errors import AuthError, BackendError, ConflictError, RunbridgeError
from ...core.token_file import read_token_file
from ...http import HttpClient, Secret
from .spec import DEFAULT_TOKEN_FILE

__all__ = ["LOGIN_HINT", "TokenSource", "obtain_token", "token_file_of"]

LOGIN_HINT = "Run `runbridge login orchagent` in a terminal (it asks for your email and password) and try again."


def token_file_of(profile: Profile, env: Mapping[str, str] | None = None) -> Path:
    """The token file a profile uses: its own `token_file`, else `$ORCHAGENT_TOKEN_FILE`, else the SDK default."""
    if profile.token_file is not None:
        return profile.token_file
    env = os.environ if env is None else env
    return Path(env.get("ORCHAGENT_TOKEN_FILE") or DEFAULT_TOKEN_FILE).expanduser()


class TokenSource:
    """The current token of one profile, re-read when its file changes."""

    def __init__(self, profile: Profile, env: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env
        self._var = profile.api_key_env
        self.path = token_file_of(profile, self._env)
        self._cache: tuple[tuple[int, int, int], Secret] | None = None

    def get(self) -> Secret:
        if self._var and self._env.get(self._var):
            return Secret(self._env[self._var], f"${self._var}")
        try:
            info = self.path.stat()
        except OSError:
            info = None  # read_token_file says what is wrong with it
        key = (info.st_mtime_ns, info.st_size, info.st_ino) if info is not None else None
        if key is not None and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        secret = Secret(read_token_file(self.path, hint=LOGIN_HINT), str(self.path))
        if key is not None:
            self._cache = (key, secret)
        return secret


async def obtain_token(
    profile: Profile, email: str, password: str, *, register: bool = False, http: HttpClient | None = None
) -> str:
    """Log in (or register) with the server and return the new access token.

    Errors say what went wrong in the person's terms; the password never appears in them.
    """
    client = http or HttpClient(profile, secret=Secret(""))
    path = "/auth/register" if register else "/auth/login"
    action = "register with orchagent" if register else "log in to orchagent"
    try:
        doc = await client.json("POST", path, action=action, json={"email": email, "password": password})
    except AuthError:
        raise AuthError("Wrong email or password.", backend="orchagent", status=401) from None
    except ConflictError:
        raise ConflictError(
            f"{email} is already registered; run `runbridge login orchagent` without --register.",
            backend="orchagent",
            status=409,
        ) from None
    except RunbridgeError as exc:
        exc.message = exc.message.replace(password, "***") if password else exc.message
        raise
    finally:
        if http is None:
            await client.aclose()
    token = doc.get("access_token") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise BackendError(f"The server at {profile.base_url} answered without an access_token.", backend="orchagent")
    return token
