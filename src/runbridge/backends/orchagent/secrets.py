"""Secrets by reference for orchagent: the references a profile sends with every message
(`options.secrets_from_env` / `options.secrets_from_file`); reading them and scrubbing what comes back are shared
by the families (`backends/_secrets.py`).
"""

from __future__ import annotations

from ...core.config import Profile
from ...core.threads import SecretRefs
from .._secrets import resolve, scrub
from .spec import OrchagentOptions

__all__ = ["profile_refs", "resolve", "scrub"]


def profile_refs(profile: Profile) -> SecretRefs:
    """The secret references a profile sends with every message (`options.secrets_from_env/_file`, checked when
    the configuration was read)."""
    options = profile.typed_options(OrchagentOptions)
    return SecretRefs(from_env=dict(options.secrets_from_env), from_file=dict(options.secrets_from_file))
