"""Which files and secret references a tool call may use: never runbridge's own credentials, and only what the
operator allows.

Secret references (`secrets_from_env`, `secrets_from_file`) and workflow spec files (`threads_create` with `path`)
are tool arguments: the model chooses them, and a prompt it read may choose them for it. runbridge reads what they
name and sends it to a backend, so a reference to runbridge's own credentials would hand those to the backend.
Refused, always:

* environment variables holding runbridge's credentials: every profile's `api_key_env`, the HTTP bearer token's
  variable (`serve --http --token-env VAR`), `RUNBRIDGE_STATE_KEY`, and each family's variables naming a
  credential file (its spec's `credentials`: `ORCHAGENT_TOKEN_FILE`);
* files: every profile's `token_file`, each family's credential files (orchagent's token file:
  `$ORCHAGENT_TOKEN_FILE`, `~/.orchagent/token.json`),
  the run registry and `request-state.key` (and, when the state directory is runbridge's own default, everything
  in it), the `runbridge.toml` read and the configuration files of MCP hosts (core/file_guard.py), the system's
  pseudo-files (`/proc`, `/sys`, `/dev`), and anything that is not a regular file. Paths are compared after
  `realpath`, so symlinks and `..` lead nowhere else; the file opened is compared by device and inode too, so a
  hard link to a reserved file is refused as well;
* any file whose content holds a credential runbridge has loaded (a profile's key or token, the HTTP bearer token,
  the request-state key, orchagent's token), compared in memory and never logged or shown.

Spec files come only from allowed directories: the directory of the `runbridge.toml` read and the profile's
`allowed_spec_dirs`; without a configuration file, only those named in `$RUNBRIDGE_SPEC_DIRS`. A profile narrows
secret references further: `allowed_secret_env` (names or glob patterns) and `allowed_secret_dirs` (directories),
each unset by default (everything not reserved is allowed). Refusals name the reference and say why, never a value;
a path that does not exist is not repeated (it may be a secret pasted where a path belongs).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from .config import Profile, Settings, default_state_path
from .errors import InputError, sentences
from .families import registered_families
from .file_guard import FileId, Opened, Unreadable, file_id, holds_any, host_config_paths, host_config_reason
from .file_guard import open_checked as _open
from .threads import SecretRefs
from .token_file import tokens_in

__all__ = [
    "MAX_SECRET_FILE_BYTES",
    "MAX_SPEC_FILE_BYTES",
    "REDIS_PASSWORD_ENV",
    "SPEC_DIRS_ENV",
    "STATE_KEYS_ENV",
    "STATE_KEY_ENV",
    "SecretPolicy",
    "ring_keys",
]

STATE_KEY_ENV = "RUNBRIDGE_STATE_KEY"
STATE_KEYS_ENV = "RUNBRIDGE_STATE_KEYS"  # a ring of keys: the first seals, every one unseals
REDIS_PASSWORD_ENV = "RUNBRIDGE_REDIS_PASSWORD"  # noqa: S105  (the name of a variable)
SPEC_DIRS_ENV = "RUNBRIDGE_SPEC_DIRS"


MAX_SECRET_FILE_BYTES = 64 * 1024
MAX_SPEC_FILE_BYTES = 5 * 1024 * 1024
_MIN_CREDENTIAL = 8  # shorter "credentials" (a placeholder, a typo) would match innocent files
_SYSTEM_DIRS = ("/proc", "/sys", "/dev")


def ring_keys(value: str) -> list[str]:
    """The keys of `$RUNBRIDGE_STATE_KEYS`: separated by commas or whitespace, the first the one that seals."""
    return value.replace(",", " ").split()


_REGISTRY_SUFFIXES = ("", "-wal", "-shm", "-journal")  # SQLite's database and its companion files
_CONVENTIONAL = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_OWN = "runbridge never sends its own credentials to a backend"
_ASK_FILE = "Ask the user for a file (mode 0600) that holds only the secret for this key"


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


@dataclass(frozen=True)
class _Reserved:
    env: dict[str, str]  # name -> what it holds
    files: dict[Path, str]  # realpath -> what it holds
    dirs: dict[Path, str]  # realpath -> what it holds
    ids: dict[FileId, str]  # (device, inode) of each reserved file that exists -> what it holds
    holders: dict[Path, str]  # the reserved files that hold a credential themselves (token files, state key)


class SecretPolicy:
    """Checks a call's secret references and spec files against runbridge's own credentials and the allow-lists."""

    def __init__(
        self, settings: Settings, *, env: Mapping[str, str] | None = None, protect_env: Iterable[str] = ()
    ) -> None:
        self._settings = settings
        self._env = os.environ if env is None else env
        self._protect_env = tuple(protect_env)

    def _home(self) -> Path:
        return Path(self._env.get("HOME") or Path.home())

    def _reserved(self) -> _Reserved:
        """Computed per check: symlinks and files may have changed since the server started."""
        env: dict[str, str] = {STATE_KEY_ENV: "the key sealing gate continuations"}
        env[STATE_KEYS_ENV] = "the keys sealing gate continuations"
        env[REDIS_PASSWORD_ENV] = "the password of runbridge's Redis"
        holders: dict[Path, str] = {}
        for spec in registered_families():  # each family's own credentials (orchagent's token file), as it says
            env.update(spec.credentials.path_env)
            for token_file, what in spec.credentials.files(self._env).items():
                holders[_real(token_file)] = what
        for name in self._protect_env:
            env[name] = "the bearer token HTTP clients must send to runbridge"
        files: dict[Path, str] = {}
        for host_file in host_config_paths(self._env, self._home()):
            files[_real(host_file)] = host_config_reason([host_file]) or "an MCP host's configuration file"
        if self._settings.config_file is not None:
            files[_real(self._settings.config_file)] = "the runbridge.toml this server read"
        for profile in self._settings.profiles.values():
            if profile.api_key_env:
                env[profile.api_key_env] = f"the credential of profile {profile.name!r}"
            if profile.token_file is not None:
                holders[_real(profile.token_file)] = f"the token file of profile {profile.name!r}"
        dirs = {Path(d): "where the system's pseudo-files are (process environments, devices)" for d in _SYSTEM_DIRS}
        if self._settings.state_path != ":memory:":
            registry = _real(self._settings.state_path)
            for suffix in _REGISTRY_SUFFIXES:
                files[registry.with_name(registry.name + suffix)] = "runbridge's run registry (in its state directory)"
            holders[registry.with_name("request-state.key")] = (
                "the key sealing gate continuations (in runbridge's state directory)"
            )
            if registry.parent == _real(default_state_path()).parent:
                # A directory of runbridge's own: everything in it is runbridge's. A state path the operator put in
                # a shared folder (a project, a temp dir) reserves only runbridge's files there.
                dirs[registry.parent] = "runbridge's state directory (run registry and request-state key)"
        files.update(holders)
        ids: dict[FileId, str] = {}
        for path, what in files.items():
            try:
                ids.setdefault(file_id(path.stat()), what)
            except OSError:
                continue  # not there (or not reachable): nothing to link to
        return _Reserved(env=env, files=files, dirs=dirs, ids=ids, holders=holders)

    @staticmethod
    def _names_a_file(variable: str) -> bool:
        """A variable that names a credential file: reserved, but its value is a path, not a credential."""
        return any(variable in spec.credentials.path_env for spec in registered_families())

    def _credentials(self, reserved: _Reserved) -> dict[str, str]:
        """Every credential runbridge has loaded or would load, value -> what it is. Held in memory for one check;
        values are only ever compared, never logged, shown or stored."""
        found: dict[str, str] = {}
        for name, what in reserved.env.items():
            value = self._env.get(name, "").strip()
            if value and not self._names_a_file(name):
                for one in ring_keys(value) if name == STATE_KEYS_ENV else [value]:
                    found[one] = what
        for path, what in reserved.holders.items():
            try:
                text = _open(path, max_bytes=MAX_SECRET_FILE_BYTES).data.decode("utf-8", "replace").strip()
            except Unreadable:
                continue
            for value in _tokens_in(text):
                found.setdefault(value, what)
        return {value: what for value, what in found.items() if len(value) >= _MIN_CREDENTIAL}

    def check(self, profile: Profile, refs: SecretRefs) -> SecretRefs:
        """`refs` if every reference may be used, with each file replaced by its real path and bound to the file
        (device, inode) checked, so that the one read is the one checked; else an `InputError` naming the first
        refused reference."""
        reserved = self._reserved()
        for key, name in sorted(refs.from_env.items()):
            self._check_env(profile, reserved, key, name)
        files: dict[str, str] = {}
        ids: dict[str, FileId] = {}
        for key, file in sorted(refs.from_file.items()):
            real, opened = self._check_file(profile, reserved, key, file)
            files[key], ids[key] = str(real), opened.identity
        return SecretRefs(from_env=dict(refs.from_env), from_file=files, file_ids=ids)

    def spec_dirs(self, profile: Profile) -> list[Path]:
        """The directories `threads_create` reads spec files from for `profile` (real paths)."""
        dirs = list(profile.allowed_spec_dirs)
        if self._settings.config_file is not None:
            dirs.insert(0, self._settings.config_file.parent)
        else:
            named = (Path(d.strip()).expanduser() for d in self._env.get(SPEC_DIRS_ENV, "").split(os.pathsep))
            dirs += [d for d in named if str(d) and d.is_absolute()]
        return [_real(d) for d in dirs]

    def read_spec_file(self, profile: Profile, path: str) -> tuple[Path, bytes]:
        """The real path and content of a workflow spec file: from an allowed directory, never one of runbridge's
        own credentials or a file holding one, read from the descriptor that was checked."""
        if Path(path).suffix.lower() != ".json":
            raise InputError(
                "That path does not name a .json file: threads_create reads workflow specs from JSON files only. "
                "Pass the workflow spec as `spec`, or the path of a workflow .json file."
            )
        real = _usable(path, "threads_create's `path`")
        if not _exists(real):
            raise InputError(
                "There is no file at that path (paths are read by the runbridge server process, on its machine). "
                "Pass the workflow spec as `spec`, or the path of an existing workflow .json file."
            )
        shown = f"{path!r}{_resolved(path, real)}"
        reserved = self._reserved()
        reason = self._reserved_file(reserved, [Path(path), real])
        if reason:
            raise InputError(_spec_refused(shown, reason))
        allowed = self.spec_dirs(profile)
        if not any(_inside(real, folder) for folder in allowed):
            raise InputError(self._outside_spec_dirs(profile, shown, allowed))
        try:
            opened = _open(real, max_bytes=MAX_SPEC_FILE_BYTES)
        except Unreadable as exc:
            raise InputError(f"The spec file {shown} {exc.reason}; check it, or pass the spec as `spec`.") from None
        if opened.where is not None and not any(_inside(opened.where, folder) for folder in allowed):
            raise InputError(self._outside_spec_dirs(profile, shown, allowed))  # a folder moved after the check
        reason = self._leak(reserved, opened)
        if reason:
            raise InputError(_spec_refused(shown, reason))
        return real, opened.data

    def _outside_spec_dirs(self, profile: Profile, shown: str, allowed: list[Path]) -> str:
        where = ", ".join(str(folder) for folder in allowed) or "no directory (none is configured)"
        how = (
            f"add its directory to allowed_spec_dirs in [profiles.{profile.name}] of runbridge.toml"
            if self._settings.config_file is not None
            else f"name its directory in ${SPEC_DIRS_ENV} where runbridge starts (or use a runbridge.toml)"
        )
        return sentences(
            f"Refused path {shown}: threads_create reads spec files only from {where}",
            f"Pass the workflow spec as `spec`, use a file in one of those directories, or ask the operator to {how}",
        )

    def _leak(self, reserved: _Reserved, opened: Opened) -> str | None:
        """Why the opened file must not be sent: it is a reserved file (a hard link, say) or holds a credential."""
        held = reserved.ids.get(opened.identity)
        if held is not None:
            return f"the same file as {held} (a hard link to it)"
        found = holds_any(opened.data, self._credentials(reserved))
        return f"a file holding {found}" if found else None

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

    def _reserved_file(self, reserved: _Reserved, paths: list[Path]) -> str | None:
        """Why the file (as named, and its real path, last) is reserved by path or name, else None."""
        real = paths[-1]
        held = reserved.files.get(real)
        if held is not None:
            return held
        for folder, what in reserved.dirs.items():
            if _inside(real, folder):
                return f"in {folder}, {what}"
        return host_config_reason(paths)

    def _check_file(self, profile: Profile, reserved: _Reserved, key: str, file: str) -> tuple[Path, Opened]:
        real = _usable(file, f"secrets_from_file[{key!r}]")
        # A path is repeated only when a file is there: what does not exist may be the secret itself, pasted where
        # a path belongs.
        exists = _exists(real)
        where = f"secrets_from_file[{key!r}]" + (f" ({file!r}{_resolved(file, real)})" if exists else "")
        reason = self._reserved_file(reserved, [Path(file).expanduser(), real])
        if reason:
            raise InputError(sentences(f"Refused {where}: it is {reason}; {_OWN}", _ASK_FILE))
        if not exists:
            raise InputError(sentences(f"The secret file for {key} does not exist", _ASK_FILE))
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
            opened = _open(real, max_bytes=MAX_SECRET_FILE_BYTES)
        except Unreadable as exc:
            if "regular" in exc.reason:
                raise InputError(
                    sentences(f"Refused {where}: it {exc.reason}", "Name a file (mode 0600) that holds only the secret")
                ) from None
            raise InputError(sentences(f"The secret file for {key} {exc.reason}", _ASK_FILE)) from None
        reason = self._leak(reserved, opened)
        if reason:
            raise InputError(sentences(f"Refused {where}: it is {reason}; {_OWN}", _ASK_FILE))
        return real, opened


def _tokens_in(text: str) -> list[str]:
    """The credentials a token file holds; a file that only looks like JSON holds itself (as its reader would
    refuse it, the whole text is what must not leak)."""
    try:
        return tokens_in(text)
    except ValueError:
        return [text.strip()]


def _usable(given: str, what: str) -> Path:
    """The real path of `given`; a path the system cannot take (a NUL byte) is a clear error that does not echo it."""
    try:
        return _real(given)
    except (ValueError, OSError):
        raise InputError(f"{what} is not a usable path (it holds a NUL byte or is too long).") from None


def _exists(real: Path) -> bool:
    try:
        return real.exists()
    except OSError:  # a name too long, say: nothing usable is there
        return False


def _spec_refused(shown: str, reason: str) -> str:
    return sentences(
        f"Refused path {shown}: it is {reason}, and the file would be sent to the backend as the workflow spec; {_OWN}",
        "Pass the workflow spec as `spec`, or the path of a workflow .json file",
    )


def _resolved(given: str, real: Path) -> str:
    """`, which resolves to X` when the given path is not already its own real path."""
    return "" if str(Path(given).expanduser()) == str(real) else f", which resolves to {str(real)!r}"
