"""A workspace secret's value, read from the one reference the call named (an environment variable or a file of
mode 0600, already checked by the secret policy), right before it is sent; registered with the log redactor at
once. The reading is shared by the families (`backends/_secrets.py`): errors name the reference, never a value."""

from __future__ import annotations

from collections.abc import Mapping

from ...core.errors import InputError
from ...core.threads import SecretRefs
from .._secrets import resolve

__all__ = ["read_value"]


def read_value(source: SecretRefs, name: str, env: Mapping[str, str]) -> str:
    """The value `source` names for secret `name` (its one reference, keyed by `name`)."""
    if len(source.from_env) + len(source.from_file) != 1:
        raise InputError("Name exactly one source for the secret's value: an environment variable or a file.")
    (value,) = resolve(source, env).values()
    return str(value)
