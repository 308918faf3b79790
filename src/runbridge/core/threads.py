"""Threads (a conversation a backend keeps, where each message starts a run) and secrets passed by reference.

A `SecretRefs` names where secret values come from (environment variables, files), never the values: tools take
references from the model, and only the adapter, right before sending, turns them into values.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["HistoryItem", "SecretRefs", "Thread"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_KEY_PATH = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


class Thread(BaseModel):
    """A thread as created on the backend."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str
    details: dict[str, Any] = Field(default_factory=dict)


class HistoryItem(BaseModel):
    """One message of a thread's history, oldest first within a page."""

    model_config = ConfigDict(extra="forbid")

    role: str
    content: str
    created_at: str | None = None
    run_id: str | None = Field(default=None, description="The run that produced or received this message.")
    meta: dict[str, Any] | None = None


def _check_paths(value: dict[str, str], what: str) -> dict[str, str]:
    for path, source in value.items():
        if not _KEY_PATH.match(path):
            raise ValueError(
                f"{path!r} is not a secret key path: use dotted names like providers.openai.api_key or TAVILY_API_KEY"
            )
        if what == "env" and not _ENV_NAME.match(source):
            # The offending text is not repeated: it may be a secret pasted where its variable's name belongs.
            raise ValueError(
                f"the value for {path!r} is not an environment variable name (letters, digits, underscores); "
                "name the variable that holds the secret, never the secret itself"
            )
        if what == "file" and not source.strip():
            raise ValueError(f"the file for {path!r} is empty")
    paths = sorted(value)
    for shorter, longer in pairwise(paths):
        if longer.startswith(shorter + "."):
            raise ValueError(f"{shorter!r} and {longer!r} clash: one cannot be both a value and a group of values")
    return value


class SecretRefs(BaseModel):
    """Where each secret comes from, by dotted key path: `{"providers.openai.api_key": "OPENAI_API_KEY"}` in
    `from_env` sends `{"providers": {"openai": {"api_key": <$OPENAI_API_KEY>}}}`. `from_file` names files (mode
    0600) holding one value each. Holds names only, so it is safe to log, store and show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_env: dict[str, str] = Field(default_factory=dict)
    from_file: dict[str, str] = Field(default_factory=dict)
    # Set by the secret policy, per key of `from_file`: the file (device, inode) it checked. The adapter reads a
    # file only while it is still that one, so a file swapped in after the check is never sent.
    file_ids: dict[str, tuple[int, int]] = Field(default_factory=dict)

    @field_validator("from_env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_paths(value, "env")

    @field_validator("from_file")
    @classmethod
    def _file(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_paths(value, "file")

    @property
    def keys(self) -> list[str]:
        """The key paths these references fill, sorted."""
        return sorted({*self.from_env, *self.from_file})

    def __bool__(self) -> bool:
        return bool(self.from_env or self.from_file)

    def over(self, base: SecretRefs) -> SecretRefs:
        """These references, with `base` filling the keys they do not name (these win key by key)."""
        env = {k: v for k, v in base.from_env.items() if k not in self.from_file}
        files = {k: v for k, v in base.from_file.items() if k not in self.from_env}
        ids = {k: v for k, v in base.file_ids.items() if k in files and k not in self.from_file}
        return SecretRefs(
            from_env={**env, **self.from_env},
            from_file={**files, **self.from_file},
            file_ids={**ids, **self.file_ids},
        )
