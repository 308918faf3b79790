"""The backend families runbridge knows: one `FamilySpec` each, registered in one place.

A family is everything runbridge needs to know about one backend API outside the adapter itself: its name, its
options (a pydantic model: `[profiles.NAME.options]` is validated with it when the configuration is read), the
profile its own environment variables define, the credentials a tool call must never reach, how its error bodies
read, what `runbridge doctor` checks, how `runbridge login` signs in, what `runbridge demo` runs, and which sandbox
speaks its wire. The configuration, the secret policy, the error mapping and every command read them from here, so
nothing outside a family's package names the family.

Why the registry lives in core: the configuration must know which families exist and validate each profile's
options before any adapter is built, and core imports no other layer. So core defines the spec and the registry,
and `runbridge.backends.registry` registers the families runbridge ships; the package root (`runbridge/__init__.py`)
imports it, so the registry is complete before any configuration is read, whichever module is imported first.
`register` adds a family (a test's fake one, say). The adapter class is imported only when a profile of its family
is used (`adapter` is a function that imports it), so a server loads only the families it serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # config imports this module; the profile type is named for the checker only
    from .config import Profile

__all__ = [
    "Credentials",
    "DemoDefaults",
    "DoctorChecks",
    "ErrorInfo",
    "ErrorShape",
    "FamilyOptions",
    "FamilySpec",
    "LoginFlow",
    "NoOptions",
    "family_names",
    "find_family",
    "register",
    "registered_families",
    "unregister",
]


class FamilyOptions(BaseModel):
    """The base of every family's options model: unknown keys and wrong types are refused when the configuration is
    read (strict: `"soon"` is not a number, `1` is not `true`), with the nearest known key suggested."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoOptions(FamilyOptions):
    """A family that takes no options."""


@dataclass(frozen=True)
class ErrorInfo:
    """What a backend's error body says, as far as runbridge keeps it: its short message, code, request id and
    retry hint (never the body or headers)."""

    message: str | None = None
    code: str | None = None
    request_id: str | None = None
    retry_after: float | None = None
    retryable: bool | None = None


ErrorShape = Callable[[dict[str, Any]], ErrorInfo | None]
"""Reads a family's own error envelope out of a JSON body; None when the body is not in it (the common envelopes,
`{detail}` and `{message, code}`, are read after it)."""


def _no_files(env: Mapping[str, str]) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class Credentials:
    """What of a family's a tool call may never name as a secret reference or a spec file (`core.secret_policy`).

    `path_env` are variables that name a credential file (reserved; their values are paths, not credentials);
    `files(env)` are the files holding a credential, path -> what it holds (read to recognise a copy of it)."""

    path_env: Mapping[str, str] = field(default_factory=dict[str, str])
    files: Callable[[Mapping[str, str]], Mapping[str, str]] = _no_files


def _no_note(profile: Profile) -> str | None:
    return None


@dataclass(frozen=True)
class DoctorChecks:
    """What `runbridge doctor` knows of a family: what answers at its `base_url` (said when something else does),
    the path prefixes its adapter puts before every route itself (a `base_url` ending in one doubles it; longest
    first), and a note on a profile that works but offers less than it could."""

    host_kind: str
    api_prefixes: tuple[str, ...] = ()
    note: Callable[[Profile], str | None] = _no_note


@dataclass(frozen=True)
class LoginFlow:
    """`runbridge login FAMILY` / `logout FAMILY`: a password exchanged for a token, saved to a file (mode 0600)."""

    default_url: str  # the server signed in to when no profile of the family is configured
    token_file: Callable[[Profile], Path]  # profile -> the file its token is kept in
    obtain: Callable[[Profile, str, str, bool], Awaitable[str]]  # (profile, email, password, register) -> token


@dataclass(frozen=True)
class DemoDefaults:
    """`runbridge demo --family NAME`: the workflow run by default and those the profile names (empty when the
    backend lists its own catalogue)."""

    workflow: str
    workflows: tuple[str, ...] = ()


def _no_env_profile(env: Mapping[str, str]) -> dict[str, Any] | None:
    return None


@dataclass(frozen=True, kw_only=True)
class FamilySpec:
    """One backend family: the one place runbridge learns about it (see the module docstring)."""

    name: str  # a profile's `family`
    display_name: str  # for people: "OpenWOP", "Synapse orchestrations"
    adapter: Callable[[], type]  # imports and returns the adapter class, constructed with `(profile[, tasks=])`
    options: type[FamilyOptions] = NoOptions
    env_vars: tuple[str, ...] = ()  # the backend's own variables that define a profile (named in messages)
    env_profile: Callable[[Mapping[str, str]], dict[str, Any] | None] = _no_env_profile
    credentials: Credentials = field(default_factory=Credentials)
    error_shape: ErrorShape | None = None
    doctor: DoctorChecks | None = None
    login: LoginFlow | None = None
    demo: DemoDefaults | None = None
    sandbox: str | None = None  # the sandbox family (`runbridge sandbox --family`) that speaks this wire

    @property
    def host_kind(self) -> str:
        return self.doctor.host_kind if self.doctor else f"{self.display_name} host"


_FAMILIES: dict[str, FamilySpec] = {}


def register(spec: FamilySpec) -> FamilySpec:
    """Add a family (a name registered twice is a programming error, not a silent replacement)."""
    if spec.name in _FAMILIES and _FAMILIES[spec.name] is not spec:
        raise ValueError(f"the family {spec.name!r} is registered already")
    _FAMILIES[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a family (a test's, when it is done with it)."""
    _FAMILIES.pop(name, None)


def find_family(name: str) -> FamilySpec | None:
    return _FAMILIES.get(name)


def registered_families() -> Sequence[FamilySpec]:
    """Every family, by name."""
    return [_FAMILIES[name] for name in sorted(_FAMILIES)]


def family_names() -> list[str]:
    return sorted(_FAMILIES)
