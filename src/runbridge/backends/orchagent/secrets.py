"""Secrets by reference: read the values named by `SecretRefs` right before sending, and keep them out of
everything that comes back.

A value is read from an environment variable or a file (mode 0600) named in the call or in the profile's
`options.secrets_from_env` / `options.secrets_from_file`; it is registered with the log redactor at once, and
`scrub` removes every registered value from what the backend sends back (events, history, errors), in case the
server echoes one.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from ...core.config import Profile
from ...core.errors import ConfigError, InputError
from ...core.logs import redact, register_secret
from ...core.threads import SecretRefs

__all__ = ["profile_refs", "resolve", "scrub"]

_MAX_FILE = 64 * 1024
_CONVENTIONAL = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


def profile_refs(profile: Profile) -> SecretRefs:
    """The secret references a profile sends with every message (`options.secrets_from_env/_file`)."""
    env, files = profile.options.get("secrets_from_env", {}), profile.options.get("secrets_from_file", {})
    try:
        return SecretRefs.model_validate({"from_env": env, "from_file": files})
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False, include_input=False))
        raise ConfigError(
            f"Profile {profile.name!r}: options.secrets_from_env / secrets_from_file must map key paths to "
            f"variable names / file paths ({problems})."
        ) from None


def _put(tree: dict[str, Any], path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    node = tree
    for part in parents:
        node = cast(dict[str, Any], node.setdefault(part, {}))
    node[leaf] = value


def _read_file(path: Path, key: str) -> str:
    # Opened without following a final symlink and without blocking (a pipe would hang the call), then checked on
    # the open file itself: what is read is what was checked.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(f"The secret file for {key} ({path}) does not exist.") from None
    except OSError as exc:
        raise InputError(f"The secret file for {key} ({path}) cannot be read ({exc.__class__.__name__}).") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"The secret file for {key} ({path}) is not a regular file.")
        if info.st_size > _MAX_FILE:
            raise InputError(f"The secret file for {key} ({path}) is too large for one value.")
        try:
            raw = fh.read(_MAX_FILE + 1).decode("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"The secret file for {key} ({path}) cannot be read ({exc.__class__.__name__}).") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
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
        value = _read_file(Path(file).expanduser(), key)
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
