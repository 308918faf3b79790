"""Which secret references a tool call may use: never runbridge's own credentials, and only what the operator allows.

Secret references (`secrets_from_env`, `secrets_from_file`) are tool arguments: the model chooses them, and a prompt
it read may choose them for it. runbridge reads the values they name and sends them to a backend, so a reference to
runbridge's own credentials would hand those to the backend. Refused, always:

* environment variables holding runbridge's credentials: every profile's `api_key_env`, the HTTP bearer token's
  variable (`serve --http --token-env VAR`), `RUNBRIDGE_STATE_KEY`, `ORCHAGENT_TOKEN_FILE`;
* files: every profile's `token_file`, orchagent's token file (`$ORCHAGENT_TOKEN_FILE`, `~/.orchagent/token.json`),
  the run registry and `request-state.key` (and, when the state directory is runbridge's own default, everything
  in it), the system's pseudo-files (`/proc`,
  `/sys`, `/dev`), and anything that is not a regular file. Paths are compared after `realpath`, so symlinks and
  `..` lead nowhere else.

A profile narrows further: `allowed_secret_env` (names or glob patterns) and `allowed_secret_dirs` (directories),
each unset by default (everything not reserved is allowed). Refusals name the reference (never a value) and say why.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from .config import ORCHAGENT_DEFAULT_TOKEN_FILE, Profile, Settings, default_state_path
from .errors import InputError, sentences
from .threads import SecretRefs

__all__ = ["STATE_KEY_ENV", "SecretPolicy"]

STATE_KEY_ENV = "RUNBRIDGE_STATE_KEY"
_SYSTEM_DIRS = ("/proc", "/sys", "/dev")
_REGISTRY_SUFFIXES = ("", "-wal", "-shm", "-journal")  # SQLite's database and its companion files
_CONVENTIONAL = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_OWN = "runbridge never sends its own credentials to a backend"


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


@dataclass(frozen=True)
class _Reserved:
    env: dict[str, str]  # name -> what it holds
    files: dict[Path, str]  # realpath -> what it holds
    dirs: dict[Path, str]  # realpath -> what it holds


class SecretPolicy:
    """Checks a call's secret references against runbridge's own credentials and the profile's allow-lists."""

    def __init__(
        self, settings: Settings, *, env: Mapping[str, str] | None = None, protect_env: Iterable[str] = ()
    ) -> None:
        self._settings = settings
        self._env = os.environ if env is None else env
        self._protect_env = tuple(protect_env)

    def _reserved(self) -> _Reserved:
        """Computed per check: symlinks and files may have changed since the server started."""
        env: dict[str, str] = {
            STATE_KEY_ENV: "the key sealing gate continuations",
            "ORCHAGENT_TOKEN_FILE": "the path of orchagent's token file",
        }
        for name in self._protect_env:
            env[name] = "the bearer token HTTP clients must send to runbridge"
        files: dict[Path, str] = {}
        orchagent_token = self._env.get("ORCHAGENT_TOKEN_FILE") or ORCHAGENT_DEFAULT_TOKEN_FILE
        for token_file in {orchagent_token, ORCHAGENT_DEFAULT_TOKEN_FILE}:
            files[_real(token_file)] = "orchagent's token file"
        for profile in self._settings.profiles.values():
            if profile.api_key_env:
                env[profile.api_key_env] = f"the credential of profile {profile.name!r}"
            if profile.token_file is not None:
                files[_real(profile.token_file)] = f"the token file of profile {profile.name!r}"
        dirs = {Path(d): "where the system's pseudo-files are (process environments, devices)" for d in _SYSTEM_DIRS}
        if self._settings.state_path != ":memory:":
            registry = _real(self._settings.state_path)
            for suffix in _REGISTRY_SUFFIXES:
                files[registry.with_name(registry.name + suffix)] = "runbridge's run registry (in its state directory)"
            files[registry.with_name("request-state.key")] = (
                "the key sealing gate continuations (in runbridge's state directory)"
            )
            if registry.parent == _real(default_state_path()).parent:
                # A directory of runbridge's own: everything in it is runbridge's. A state path the operator put in
                # a shared folder (a project, a temp dir) reserves only runbridge's files there.
                dirs[registry.parent] = "runbridge's state directory (run registry and request-state key)"
        return _Reserved(env=env, files=files, dirs=dirs)

    def check(self, profile: Profile, refs: SecretRefs) -> SecretRefs:
        """`refs` if every reference may be used, with each file replaced by its real path (the file that will be
        read is the one that was checked); else an `InputError` naming the first refused reference."""
        reserved = self._reserved()
        for key, name in sorted(refs.from_env.items()):
            self._check_env(profile, reserved, key, name)
        files = {
            key: str(self._check_file(profile, reserved, key, file)) for key, file in sorted(refs.from_file.items())
        }
        return SecretRefs(from_env=dict(refs.from_env), from_file=files)

    def check_spec_file(self, path: str) -> Path:
        """A workflow spec file to read and send: never one of runbridge's own credentials (any regular file else)."""
        real = _real(path)
        reason = self._reserved_file(self._reserved(), real)
        if reason:
            raise InputError(
                sentences(
                    f"Refused path {path!r}{_resolved(path, real)}: it is {reason}, and the file would be sent to "
                    f"the backend as the workflow spec; {_OWN}",
                    "Pass the workflow spec as `spec`, or the path of a workflow .json file",
                )
            )
        return real

    def _check_env(self, profile: Profile, reserved: _Reserved, key: str, name: str) -> None:
        held = reserved.env.get(name)
        if held is not None:
            raise InputError(
                sentences(
                    f"Refused secrets_from_env[{key!r}]: the environment variable {name} holds {held}; {_OWN}",
                    "Ask the user which environment variable holds the secret for this key (e.g. OPENAI_API_KEY "
                    "for providers.openai.api_key), exported where runbridge starts",
                )
            )
        allowed = profile.allowed_secret_env
        if allowed is not None and not any(fnmatchcase(name, pattern) for pattern in allowed):
            # Named only when it looks like a variable name: a secret pasted in its place must not come back.
            named = f"the environment variable {name}" if _CONVENTIONAL.match(name) else "that environment variable"
            shown = ", ".join(allowed) or "none"
            raise InputError(
                sentences(
                    f"Refused secrets_from_env[{key!r}]: profile {profile.name!r} does not allow {named} "
                    f"(allowed_secret_env: {shown})",
                    "Use a variable that matches one of those, or ask the operator to add it to allowed_secret_env "
                    f"in [profiles.{profile.name}] of runbridge.toml",
                )
            )

    def _reserved_file(self, reserved: _Reserved, real: Path) -> str | None:
        held = reserved.files.get(real)
        if held is not None:
            return held
        for folder, what in reserved.dirs.items():
            if _inside(real, folder):
                return f"in {folder}, {what}"
        return None

    def _check_file(self, profile: Profile, reserved: _Reserved, key: str, file: str) -> Path:
        real = _real(file)
        where = f"secrets_from_file[{key!r}] ({file!r}{_resolved(file, real)})"
        reason = self._reserved_file(reserved, real)
        if reason:
            raise InputError(
                sentences(
                    f"Refused {where}: it is {reason}; {_OWN}",
                    "Ask the user for a file (mode 0600) that holds only the secret for this key",
                )
            )
        allowed = profile.allowed_secret_dirs
        if allowed is not None and not any(_inside(real, _real(folder)) for folder in allowed):
            shown = ", ".join(str(folder) for folder in allowed) or "none"
            raise InputError(
                sentences(
                    f"Refused {where}: profile {profile.name!r} reads secret files only from allowed_secret_dirs "
                    f"({shown})",
                    "Use a file in one of those directories, or ask the operator to add its directory to "
                    f"allowed_secret_dirs in [profiles.{profile.name}] of runbridge.toml",
                )
            )
        try:
            mode = real.stat().st_mode
        except FileNotFoundError:
            raise InputError(f"The secret file for {key} ({file}) does not exist.") from None
        except OSError as exc:
            raise InputError(f"The secret file for {key} ({file}) cannot be read ({exc.__class__.__name__}).") from None
        if not stat.S_ISREG(mode):
            raise InputError(
                sentences(
                    f"Refused {where}: it is not a regular file (a directory, device, pipe or socket)",
                    "Name a file (mode 0600) that holds only the secret",
                )
            )
        return real


def _resolved(given: str, real: Path) -> str:
    """`, which resolves to X` when the given path is not already its own real path."""
    return "" if str(Path(given).expanduser()) == str(real) else f", which resolves to {str(real)!r}"
