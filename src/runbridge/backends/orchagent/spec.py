"""The orchagent family as runbridge knows it outside the adapter: options, the `ORCHAGENT_*` profile, the token
file to protect, the sign-in flow, and what doctor checks. Imports no HTTP code: it is read at startup."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, PositiveFloat, ValidationError, model_validator

from ...core.families import Credentials, DoctorChecks, FamilyOptions, FamilySpec, LoginFlow
from ...core.threads import SecretRefs

if TYPE_CHECKING:
    from ...core.config import Profile

__all__ = ["DEFAULT_TOKEN_FILE", "DEFAULT_URL", "SPEC", "OrchagentOptions"]

DEFAULT_URL = "http://localhost:8080"
DEFAULT_TOKEN_FILE = "~/.orchagent/token.json"  # noqa: S105  (a path, not a password)
_VARS = ("ORCHAGENT_BASE_URL", "ORCHAGENT_TOKEN_FILE", "ORCHAGENT_TIMEOUT")


class OrchagentOptions(FamilyOptions):
    """`[profiles.NAME.options]` of an orchagent profile."""

    # The server has no run status: `get_run` reads the replayed stream until it is this long silent (or ends)...
    status_idle_seconds: PositiveFloat = 0.3
    # ... and for this long at most.
    status_budget_seconds: PositiveFloat = 10.0
    # Secrets sent with every message, by reference: key path -> variable name / file path (mode 0600).
    secrets_from_env: dict[str, str] = Field(default_factory=dict[str, str])
    secrets_from_file: dict[str, str] = Field(default_factory=dict[str, str])

    @model_validator(mode="after")
    def _references(self) -> OrchagentOptions:
        try:
            SecretRefs(from_env=self.secrets_from_env, from_file=self.secrets_from_file)
        except ValidationError as exc:
            problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors(include_url=False))
            raise ValueError(f"secrets_from_env / secrets_from_file: {problems}") from None
        return self


def _env_profile(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The orchagent SDK's own variables, with its defaults; its timeout is for every call but the event stream,
    which waits on humans and has no keep-alives, so it gets no read timeout at all."""
    if not any(env.get(name) for name in _VARS):
        return None
    timeout = env.get("ORCHAGENT_TIMEOUT") or "30"
    return {
        "base_url": env.get("ORCHAGENT_BASE_URL") or DEFAULT_URL,
        "token_file": env.get("ORCHAGENT_TOKEN_FILE") or DEFAULT_TOKEN_FILE,
        "read_timeout": timeout,
        "connect_timeout": timeout,
        "stream_read_timeout": None,
    }


def _token_files(env: Mapping[str, str]) -> dict[str, str]:
    return {
        path: "orchagent's token file"
        for path in {env.get("ORCHAGENT_TOKEN_FILE") or DEFAULT_TOKEN_FILE, DEFAULT_TOKEN_FILE}
    }


def _adapter() -> type:
    from .adapter import OrchagentBackend

    return OrchagentBackend


def _token_file(profile: Profile) -> Path:
    from .auth import token_file_of

    return token_file_of(profile)


async def _obtain(profile: Profile, email: str, password: str, register: bool) -> str:
    from .auth import obtain_token

    return await obtain_token(profile, email, password, register=register)


SPEC = FamilySpec(
    name="orchagent",
    display_name="orchagent",
    adapter=_adapter,
    options=OrchagentOptions,
    env_vars=_VARS,
    env_profile=_env_profile,
    credentials=Credentials(
        path_env={"ORCHAGENT_TOKEN_FILE": "the path of orchagent's token file"}, files=_token_files
    ),
    doctor=DoctorChecks(host_kind="orchagent server"),
    login=LoginFlow(default_url=DEFAULT_URL, token_file=_token_file, obtain=_obtain),
    sandbox="orchagent",
)
