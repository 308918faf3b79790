"""One adapter package per backend API family; `create_backend` picks it from the profile's family spec.

Each family's `FamilySpec` (`<family>/spec.py`) is registered by `registry.py`; adapters are imported on first use so
that a server with one profile does not load the others.
"""

from __future__ import annotations

import inspect
from typing import cast

from anyio.abc import TaskGroup

from ..core.config import Profile
from ..core.errors import ConfigError
from ..core.families import family_names, find_family
from ..core.protocols import Backend

__all__ = ["adapter_class", "create_backend"]


def adapter_class(profile: Profile) -> type:
    """The adapter class for a profile's family (imported now)."""
    spec = find_family(profile.family)
    if spec is None:  # profiles are checked against the registry: only a family unregistered since then
        supported = ", ".join(family_names())
        raise ConfigError(
            f"Profile {profile.name!r}: the {profile.family!r} family is not available (available: {supported})."
        )
    return spec.adapter()


def create_backend(profile: Profile, *, tasks: TaskGroup | None = None) -> Backend:
    """The adapter for a profile's family, with its own HTTP client.

    Adapters whose run streams must outlive one tool call (a stream opened by a POST that cannot be re-attached)
    take `tasks`, the server's task group, to read them in the background.
    """
    cls = adapter_class(profile)
    if "tasks" in inspect.signature(cls).parameters:
        return cast(Backend, cls(profile, tasks=tasks))
    return cast(Backend, cls(profile))
