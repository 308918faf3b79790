"""Configuration: named profiles from `runbridge.toml`, plus the backends' own environment variables as shortcuts.

```toml
[server]                       # all optional
default_profile = "local"
toolsets = ["profiles", "targets", "runs", "gates"]
read_only = false
wait_seconds = 20              # how long run tools follow a run before handing back a handle
max_wait_seconds = 40           # below the 60 s most MCP hosts wait for a call, so the handle reaches them
call_budget_seconds = 50        # everything one tool call does, the backend's retries included
result_budget_chars = 20000
gate_ttl_seconds = 3600        # how long a 2026-era gate question stays answerable
state_path = "~/.local/state/runbridge/state.db"
# state_url = "redis://127.0.0.1:6379/0"  # the run store in Redis, shared by replicas (docs/deploy.md)
# follow_lease_seconds = 15     # with state_url: a dead replica's followed runs are taken over after this long
http_session_idle_seconds = 300 # serve --http: a session with nothing in flight ends after this long
http_max_sessions = 100        # serve --http: sessions kept at most (the idlest makes room for a newcomer)

[profiles.local]
family = "openwop"
base_url = "http://127.0.0.1:8787"
api_key_env = "OPENWOP_API_KEY"  # or token_file = "~/.config/runbridge/openwop.token" (mode 0600)
workflows = ["approval-demo"]
```

Secrets are named, never written here: `api_key_env` names an environment variable, `token_file` a file.
`allowed_secret_env` / `allowed_secret_dirs` narrow what tool calls may name as secret references, and
`allowed_spec_dirs` adds directories `threads_create` may read spec files from besides this file's own (see
`secret_policy`).

`family` names a registered family (`core.families`), and `[profiles.NAME.options]` is validated with that family's
options model as the file is read: a typo or a wrong type is an error naming the profile, the key and what it
takes (a union discriminated on `family`, open to the families registered at run time).

Environment shortcuts (used when the file has no profile of that name): each family may define a profile from the
backend's own variables (`OPENWOP_BASE_URL`, `ORCHAGENT_*`: its `env_profile`, named after the family).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .auth_config import AuthConfig
from .errors import ConfigError, UnknownProfileError, sentences
from .families import FamilyOptions, NoOptions, family_names, find_family, registered_families

__all__ = [
    "ALL_TOOLSETS",
    "DEFAULT_TOOLSETS",
    "Family",
    "Profile",
    "Settings",
    "default_state_path",
    "load_settings",
]

Family = str
"""A registered family's name (`core.families.family_names()`); the configuration accepts no other."""

ALL_TOOLSETS = frozenset({"profiles", "targets", "runs", "gates", "threads", "approvals", "usage", "agents", "admin"})
DEFAULT_TOOLSETS = ALL_TOOLSETS - {"admin"}


_Options = TypeVar("_Options", bound=FamilyOptions)


def default_state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "runbridge" / "state.db"


class Profile(BaseModel):
    """One backend instance and how to reach it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    family: Family
    base_url: str
    api_key_env: str | None = None
    token_file: Path | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    stream_read_timeout: float | None = 90.0
    max_retries: int = Field(default=4, ge=0, le=10)
    workflows: list[str] = Field(default_factory=list)
    allowed_secret_env: list[str] | None = None  # names or glob patterns tool calls may name in secrets_from_env
    allowed_secret_dirs: list[Path] | None = None  # directories tool calls may name files from (secrets_from_file)
    allowed_spec_dirs: list[Path] = Field(default_factory=list)  # besides runbridge.toml's: threads_create spec files
    # Validated with the family's options model (`_family_options`); a `FamilyOptions` instance from then on.
    options: SerializeAsAny[FamilyOptions] = Field(default_factory=dict, validate_default=True)  # pyright: ignore[reportAssignmentType]

    @field_validator("family")
    @classmethod
    def _registered(cls, value: str) -> str:
        if find_family(value) is None:
            raise ValueError(f"unknown family {value!r}; runbridge knows {', '.join(family_names()) or 'none'}")
        return value

    @field_validator("options", mode="before")
    @classmethod
    def _family_options(cls, value: object, info: ValidationInfo) -> FamilyOptions:
        spec = find_family(str(info.data.get("family", "")))
        if spec is None:  # the family was refused already (that error says which exist); nothing to read them by
            return NoOptions()
        if isinstance(value, spec.options):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        try:
            return spec.options.model_validate(value)
        except ValidationError as exc:
            raise ValueError(describe(exc, spec.options, prefix="options.")) from None

    def typed_options(self, model: type[_Options]) -> _Options:
        """The options as the family's model (`OrchagentOptions`, ...), which is what they hold once validated."""
        held = cast(object, self.options)  # a dict after `model_copy(update=...)`, which does not validate
        if isinstance(held, model):
            return held
        try:
            return model.model_validate(held.model_dump() if isinstance(held, BaseModel) else held)
        except ValidationError as exc:
            raise ConfigError(f"Profile {self.name!r}: {describe(exc, model, prefix='options.')}") from None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("token_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("allowed_secret_env")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not all(pattern.strip() for pattern in value):
            raise ValueError("allowed_secret_env holds variable names or glob patterns like OPENAI_* (none empty)")
        return value

    @field_validator("allowed_secret_dirs", "allowed_spec_dirs")
    @classmethod
    def _dirs(cls, value: list[Path] | None, info: ValidationInfo) -> list[Path] | None:
        if value is None:
            return None
        dirs = [folder.expanduser() for folder in value]
        if not all(folder.is_absolute() for folder in dirs):
            raise ValueError(f"{info.field_name} holds absolute directories (or ~/...), not relative paths")
        return dirs


class Settings(BaseModel):
    """Everything `build_server` needs."""

    model_config = ConfigDict(extra="forbid")

    profiles: dict[str, Profile] = Field(default_factory=dict)
    default_profile: str | None = None
    toolsets: frozenset[str] = DEFAULT_TOOLSETS
    read_only: bool = False
    wait_seconds: float = Field(default=20.0, ge=0)
    # Most MCP hosts give up on a call after 60 s (the official TypeScript SDK's default): a call must answer before
    # that, or its handle and next step are lost. `core.budget` explains the call budget.
    max_wait_seconds: float = Field(default=40.0, ge=0)
    call_budget_seconds: float = Field(default=50.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    progress_interval_seconds: float = Field(default=0.010, ge=0)
    result_budget_chars: int = Field(default=20_000, ge=1_000)
    gate_ttl_seconds: float = Field(default=3600.0, ge=60)
    state_path: str = Field(default_factory=lambda: str(default_state_path()))
    # The run store in Redis (`redis://host:port/db`, `rediss://` for TLS), shared by every replica pointing at it;
    # state_path is then unused. Its password comes from $RUNBRIDGE_REDIS_PASSWORD, never from this file.
    state_url: str | None = None
    # With a shared store: how long a replica's lease on a run it follows in the background lasts unless renewed
    # (it renews it every third of this); a replica that dies has its runs taken over by another after this long.
    follow_lease_seconds: float = Field(default=15.0, ge=1, le=600)
    # `serve --http`: a session with nothing in flight (no call, no listening stream) ends after this long, and at
    # most this many are kept (the idlest make room for a newcomer; `server.http_sessions` says how).
    http_session_idle_seconds: float = Field(default=300.0, gt=0, le=86_400)
    http_max_sessions: int = Field(default=100, ge=1, le=100_000)
    auth: AuthConfig | None = None  # `[auth]`: serve --http as an OAuth resource server (`core.auth_config`)
    config_file: Path | None = None  # the runbridge.toml read (set by load_settings, never by the file itself)

    @field_validator("state_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError("takes a Redis URL, redis://HOST:PORT/DB (or rediss:// for TLS)")
        if parts.password:
            raise ValueError(
                "must not hold a password: put it in $RUNBRIDGE_REDIS_PASSWORD and leave it out of the URL"
            )
        return value

    @property
    def shared_state(self) -> bool:
        """Whether the run store is shared by several runbridge servers (Redis), not this machine's own file."""
        return self.state_url is not None

    @field_validator("toolsets")
    @classmethod
    def _known_toolsets(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - ALL_TOOLSETS)
        if unknown:
            raise ValueError(f"unknown toolsets {unknown}; choose from {sorted(ALL_TOOLSETS)}")
        return value

    def profile(self, name: str | None) -> Profile:
        """The named profile, or the default (the configured one, else the first)."""
        if not self.profiles:
            raise UnknownProfileError(
                "No profile is configured. Add a [profiles.NAME] table to runbridge.toml, or run `runbridge demo`."
            )
        chosen = name or self.default_profile or next(iter(self.profiles))
        try:
            return self.profiles[chosen]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise UnknownProfileError(f"Unknown profile {chosen!r}. Configured profiles: {known}.") from None


def _env_profiles(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Profiles implied by the backends' own environment variables (used when the file does not name them), each
    named after its family."""
    found: dict[str, dict[str, Any]] = {}
    for spec in registered_families():
        body = spec.env_profile(env)
        if body is not None:
            found[spec.name] = {**body, "family": spec.name}
    return found


def load_settings(path: str | os.PathLike[str] | None = None, *, env: dict[str, str] | None = None) -> Settings:
    """Read settings from `path`, else `$RUNBRIDGE_CONFIG`, else `./runbridge.toml` if present, else the env.

    A named file that is missing or invalid is an error that says what to fix; no file at all is fine.
    """
    env = dict(os.environ) if env is None else env
    explicit = path or env.get("RUNBRIDGE_CONFIG")
    file = Path(explicit).expanduser() if explicit else Path("runbridge.toml")
    raw: dict[str, Any] = {}
    if file.is_file():
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read the configuration file {file}: {exc.__class__.__name__}.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                sentences(f"{file} is not valid TOML: {exc}", "Fix the syntax and start runbridge again")
            ) from None
    elif explicit and file.exists():
        raise ConfigError(
            f"The configuration path {file} is not a file: point --config / RUNBRIDGE_CONFIG at the .toml file."
        )
    elif explicit:
        raise ConfigError(
            f"The configuration file {file} does not exist. Create it (see README.md, 'Configuration'), "
            "or point --config / RUNBRIDGE_CONFIG at an existing file."
        )
    settings = _settings_from(raw, env, file)
    if not file.is_file():
        return settings
    return settings.model_copy(update={"config_file": Path(os.path.realpath(file))})


def _settings_from(raw: dict[str, Any], env: dict[str, str], file: Path) -> Settings:
    unknown = sorted(set(raw) - {"server", "profiles", "auth"})
    if unknown:
        raise ConfigError(
            f"{file}: unknown top-level table(s) {unknown}; only [server], [auth] and [profiles.NAME] exist."
        )
    server_raw, file_profiles = raw.get("server", {}), raw.get("profiles", {})
    if not isinstance(server_raw, dict):
        raise ConfigError(f"{file}: `server` must be a table: write [server] on a line of its own, then its keys.")
    if not isinstance(file_profiles, dict):
        raise ConfigError(f"{file}: `profiles` must hold tables: write one [profiles.NAME] table per profile.")
    server: dict[str, Any] = dict(server_raw)
    if "auth" in server:
        raise ConfigError(f"{file}: [server] auth: unknown key (write [auth] as a table of its own).")
    if "config_file" in server:
        raise ConfigError(f"{file}: [server] config_file: unknown key (runbridge knows which file it read).")
    env_profiles = _env_profiles(env)
    profiles: dict[str, Profile] = {}
    for name, body in {**env_profiles, **file_profiles}.items():
        where = f"{file}: [profiles.{name}]" if name in file_profiles else f"the {_env_names(name)} variables:"
        if not isinstance(body, dict):
            raise ConfigError(f"{where} must be a table of keys (family, base_url, ...), not a single value.")
        try:
            profiles[name] = Profile.model_validate({**body, "name": name})
        except ValidationError as exc:
            raise ConfigError(f"{where} {describe(exc, Profile)}") from None
    if isinstance(server.get("toolsets"), str):
        raise ConfigError(f'{file}: [server] toolsets must be a list of names, e.g. toolsets = ["runs", "gates"].')
    try:
        settings = Settings.model_validate({**server, "profiles": profiles})
    except ValidationError as exc:
        raise ConfigError(f"{file}: [server] {describe(exc, Settings)}") from None
    if "auth" in raw:
        if not isinstance(raw["auth"], dict):
            raise ConfigError(f"{file}: `auth` must be a table: write [auth] on a line of its own, then its keys.")
        try:
            settings.auth = AuthConfig.model_validate(raw["auth"])
        except ValidationError as exc:
            raise ConfigError(f"{file}: [auth] {describe(exc, AuthConfig)}") from None
    if settings.default_profile and settings.default_profile not in settings.profiles:
        known = ", ".join(sorted(settings.profiles)) or "none"
        raise ConfigError(
            f"{file}: default_profile {settings.default_profile!r} is not a configured profile "
            f"(configured: {known}). Add [profiles.{settings.default_profile}] or change default_profile."
        )
    return settings


def _env_names(family: str) -> str:
    spec = find_family(family)
    return ", ".join(spec.env_vars) if spec and spec.env_vars else f"{family.upper()}_*"


def describe(exc: ValidationError, model: type[BaseModel], *, prefix: str = "") -> str:
    """The problems, one per key: an unknown key names the nearest known one (a typo, mostly); a wrong value says
    what the key takes and what it got (shortened)."""
    lines: list[str] = []
    known = [name for name in model.model_fields if name not in ("name", "profiles", "config_file")]
    for err in exc.errors(include_url=False):
        where = (prefix + ".".join(str(p) for p in err["loc"])).rstrip(".") or "this profile"
        if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
            near = difflib.get_close_matches(str(err["loc"][0]), known, n=1)
            listed = f"known keys: {', '.join(sorted(known))}" if known else "it takes no options"
            hint = f" (did you mean {prefix}{near[0]}?)" if near else f" ({listed})"
            lines.append(f"{where}: unknown key{hint}")
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err["loc"] == ("options",) and not prefix:  # the options' own problems, already named key by key
            lines.append(message)
            continue
        shown = "" if err["type"].startswith("value_error") else _shown(err.get("input"))
        lines.append(f"{where}: {message}{shown}")
    return "; ".join(lines)


def _shown(value: object) -> str:
    """What a wrong value was, when that is safe and helps: a number, a truth value, a short word. A long string is
    only counted (it may be a secret pasted in the wrong place) and a table or a list only named."""
    if isinstance(value, bool | int | float):
        return f" (got {value!r})"
    if isinstance(value, str):
        return f" (got {value!r})" if len(value) <= 24 else f" (got a string of {len(value)} characters)"
    if isinstance(value, list):
        return " (got a list)"
    return ""
