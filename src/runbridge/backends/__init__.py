"""One adapter package per backend API family; `create_backend` picks it from the profile.

Adapters are imported on first use so that a server with one profile does not load the others.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import cast

from anyio.abc import TaskGroup

from ..core.config import Profile
from ..core.errors import ConfigError
from ..core.protocols import Backend

__all__ = ["FAMILIES", "adapter_class", "create_backend"]

# family -> (module, class)
FAMILIES: dict[str, tuple[str, str]] = {
    "openwop": ("runbridge.backends.openwop", "OpenWopBackend"),
    "orchagent": ("runbridge.backends.orchagent", "OrchagentBackend"),
    "orchestrations": ("runbridge.backends.orchestrations", "OrchestrationsBackend"),
}


def adapter_class(profile: Profile) -> type:
    """The adapter class for a profile's family (imported now)."""
    try:
        module_name, class_name = FAMILIES[profile.family]
    except KeyError:
        supported = ", ".join(sorted(FAMILIES))
        raise ConfigError(
            f"Profile {profile.name!r}: the {profile.family!r} family is not available yet (available: {supported})."
        ) from None
    return cast(type, getattr(import_module(module_name), class_name))


def create_backend(profile: Profile, *, tasks: TaskGroup | None = None) -> Backend:
    """The adapter for a profile's family, with its own HTTP client.

    Adapters whose run streams must outlive one tool call (a stream opened by a POST that cannot be re-attached)
    take `tasks`, the server's task group, to read them in the background.
    """
    cls = adapter_class(profile)
    if "tasks" in inspect.signature(cls).parameters:
        return cast(Backend, cls(profile, tasks=tasks))
    return cast(Backend, cls(profile))
