"""Where a profile's secret comes from: an environment variable or a token file, never a tool argument.

The secret is read when a client is built and held only inside the HTTP layer; `Secret.redact` scrubs it from any
text that could reach a person (error messages, logs).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import Profile
from ..core.errors import ConfigError
from ..core.logs import register_secret
from ..core.token_file import read_token_file

__all__ = ["Secret", "load_secret", "write_token_file"]


@dataclass(frozen=True)
class Secret:
    """A credential value that never prints itself."""

    value: str = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        register_secret(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __str__(self) -> str:
        return "***"

    def redact(self, text: str) -> str:
        return text.replace(self.value, "***") if self.value else text


def load_secret(profile: Profile, env: dict[str, str] | None = None) -> Secret:
    """The profile's credential; an empty `Secret` when the profile names none."""
    env = dict(os.environ) if env is None else env
    if profile.api_key_env:
        value = env.get(profile.api_key_env, "")
        if value:
            return Secret(value, f"${profile.api_key_env}")
        if profile.token_file is None:
            raise ConfigError(
                f"Profile {profile.name!r} reads its key from ${profile.api_key_env}, which is not set. "
                "Export it in the environment that starts runbridge."
            )
    if profile.token_file is not None:
        return Secret(read_token_file(profile.token_file), str(profile.token_file))
    return Secret("")


def write_token_file(path: Path, token: str) -> None:
    """Write `{"access_token": token}` with mode 0600 from the first byte (no window where others can read it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT: tighten it before writing
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"access_token": token}, fh)
    os.chmod(path, 0o600)
