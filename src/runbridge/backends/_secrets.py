"""Secrets by reference, for every family that sends them: read the values named by `SecretRefs` right before
sending, and keep them out of everything that comes back.

A value is read from an environment variable or a file (mode 0600) named by the caller (a tool call, a profile's
options); it is registered with the log redactor at once, and `scrub` removes every registered value from what the
backend sends back (events, history, errors), in case the server echoes one.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from ..core.errors import InputError
from ..core.file_guard import FileId, Unreadable, open_checked
from ..core.logs import redact, register_secret
from ..core.secret_policy import MAX_SECRET_FILE_BYTES
from ..core.threads import SecretRefs

__all__ = ["resolve", "scrub"]

_CONVENTIONAL = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


def _put(tree: dict[str, Any], path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    node = tree
    for part in parents:
        node = cast(dict[str, Any], node.setdefault(part, {}))
    node[leaf] = value


def _read_file(path: Path, key: str, checked: FileId | None) -> str:
    # Opened once, without following a final symlink and without blocking (a pipe would hang the call), checked and
    # read through that one descriptor; when the secret policy checked the file (`checked`), it must still be that
    # file (device, inode). A path that does not exist is not repeated: it may be a secret pasted in its place.
    try:
        opened = open_checked(path, max_bytes=MAX_SECRET_FILE_BYTES)
    except Unreadable as exc:
        raise InputError(f"The secret file for {key} {exc.reason}.") from None
    if checked is not None and opened.identity != tuple(checked):
        raise InputError(f"The secret file for {key} changed after it was checked; nothing was sent. Try again.")
    try:
        raw = opened.data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputError(f"The secret file for {key} ({path}) is not UTF-8 text.") from None
    if opened.mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"The secret file for {key} ({path}) is readable by others; run `chmod 600 {path}`.")
    if not raw:
        raise InputError(f"The secret file for {key} ({path}) is empty.")
    return raw


def resolve(refs: SecretRefs, env: Mapping[str, str]) -> dict[str, Any]:
    """The nested secrets object for `refs`, e.g. `{"providers": {"openai": {"api_key": ...}}}`.

    Errors name the variable or file that is missing, never a value.
    """
    values: dict[str, Any] = {}
    for key, var in sorted(refs.from_env.items()):
        value = env.get(var, "")
        if not value:
            # Named only when it looks like a variable name: a secret pasted in its place must not come back.
            named = f"The environment variable {var}" if _CONVENTIONAL.match(var) else "The environment variable named"
            raise InputError(
                f"{named} (for {key}) is not set in the environment runbridge runs in. Export it where runbridge "
                "is started (e.g. the MCP host's server config), then try again."
            )
        register_secret(value)
        _put(values, key, value)
    for key, file in sorted(refs.from_file.items()):
        value = _read_file(Path(file).expanduser(), key, refs.file_ids.get(key))
        register_secret(value)
        _put(values, key, value)
    return values


def scrub(value: Any) -> Any:
    """`value` with every registered secret replaced by `***`, in every string at any depth (keys included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): scrub(v) for k, v in cast(Mapping[Any, Any], value).items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in cast(list[Any], value)]
    return value
