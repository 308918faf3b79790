"""A workspace secret's value, read from the one reference the call named (an environment variable or a file of
mode 0600, already checked by the secret policy), right before it is sent; registered with the log redactor at
once. Errors name the reference, never a value."""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path

from ...core.errors import InputError
from ...core.file_guard import Unreadable, open_checked
from ...core.logs import register_secret
from ...core.secret_policy import MAX_SECRET_FILE_BYTES
from ...core.threads import SecretRefs

__all__ = ["read_value"]

_CONVENTIONAL = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


def _from_file(path: Path, name: str, checked: tuple[int, int] | None) -> str:
    try:
        opened = open_checked(path, max_bytes=MAX_SECRET_FILE_BYTES)
    except Unreadable as exc:
        raise InputError(f"The file for secret {name} {exc.reason}.") from None
    if checked is not None and opened.identity != tuple(checked):
        raise InputError(f"The file for secret {name} changed after it was checked; nothing was sent. Try again.")
    if opened.mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"The file for secret {name} ({path}) is readable by others; run `chmod 600 {path}`.")
    try:
        value = opened.data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputError(f"The file for secret {name} ({path}) is not UTF-8 text.") from None
    if not value:
        raise InputError(f"The file for secret {name} ({path}) is empty.")
    return value


def read_value(source: SecretRefs, name: str, env: Mapping[str, str]) -> str:
    """The value `source` names for secret `name` (its one reference)."""
    if len(source.from_env) + len(source.from_file) != 1:
        raise InputError("Name exactly one source for the secret's value: an environment variable or a file.")
    if source.from_env:
        (variable,) = source.from_env.values()
        value = env.get(variable, "")
        if not value:
            named = f"The environment variable {variable}" if _CONVENTIONAL.match(variable) else "The variable named"
            raise InputError(
                f"{named} (for secret {name}) is not set in the environment runbridge runs in. Export it where "
                "runbridge is started (e.g. the MCP host's server config), then try again."
            )
    else:
        ((key, file),) = source.from_file.items()
        value = _from_file(Path(file).expanduser(), name, source.file_ids.get(key))
    register_secret(value)
    return value
