"""One backend adapter per profile, created on first use, and which profile can do what (`Adapters`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from anyio.abc import TaskGroup

from ..backends import adapter_class, create_backend
from ..core.config import Profile, Settings
from ..core.errors import UnsupportedError, sentences
from ..core.protocols import Backend, LocalStreamsAPI, StreamKeeper, capabilities_of

__all__ = ["Adapters"]

T = TypeVar("T")


class Adapters:
    """The adapters of the configured profiles. Capabilities are checked once per profile (and per capability
    across profiles), not per call."""

    def __init__(self, settings: Settings, tasks: TaskGroup | None = None) -> None:
        self._settings = settings
        self._tasks = tasks  # the server's task group, for adapters whose streams outlive one call
        self._backends: dict[str, Backend] = {}
        self._capabilities: dict[str, frozenset[str]] = {}  # per profile
        self._able: dict[str, list[str]] = {}  # per capability: the profiles whose family has it
        # With a shared store: the keeper of a profile's streams that only this process can read (see
        # `bridge/local_streams.py`), and the profiles whose adapter has one.
        self.keeper: Callable[[str], StreamKeeper] | None = None
        self._keeping: set[str] = set()

    def get(self, profile: str | None) -> tuple[Profile, Backend]:
        """The profile (by name, or the default) and its adapter, created on first use."""
        chosen = self._settings.profile(profile)
        if chosen.name not in self._backends:
            self._use(chosen.name, create_backend(chosen, tasks=self._tasks))
        return chosen, self._backends[chosen.name]

    def _use(self, profile: str, backend: Backend) -> None:
        """`backend` serves `profile`; with a keeper, it is told of the streams only this process can read."""
        self._backends[profile] = backend
        self._keeping.discard(profile)
        if (
            self.keeper is not None
            and isinstance(backend, LocalStreamsAPI)
            and backend.keep_streams(self.keeper(profile))
        ):
            self._keeping.add(profile)

    def keeps_streams(self, profile: str) -> bool:
        """Whether the profile's adapter reads streams only this process can read, and tells the keeper of them."""
        self.get(profile)
        return profile in self._keeping

    def put(self, profile: str, backend: Backend) -> None:
        """Use `backend` for `profile` from now on (a test's stand-in)."""
        self._use(profile, backend)
        self._capabilities.pop(profile, None)

    def require(self, profile: str | None, capability: str, api: type[T]) -> tuple[Profile, T]:
        """The profile's adapter as `api`, or a clear error naming what this backend cannot do and which profiles
        can. With no profile named and a default that cannot, the one profile that can is used."""
        settings = self._settings
        able = self._able.get(capability)
        if able is None:
            able = self._able[capability] = [
                name for name, p in settings.profiles.items() if capability in capabilities_of(adapter_class(p))
            ]
        if profile is None and len(able) == 1 and settings.profile(None).name not in able:
            profile = able[0]
        chosen, backend = self.get(profile)
        capabilities = self._capabilities.get(chosen.name)
        if capabilities is None:
            capabilities = self._capabilities[chosen.name] = capabilities_of(backend)
        if capability not in capabilities:
            what = capability.replace("_", " ")
            others = " or ".join(f"profile={name!r}" for name in able)
            raise UnsupportedError(
                sentences(
                    f"Profile {chosen.name!r} ({chosen.family}) does not support {what}",
                    f"Pass {others} instead" if others else "No configured profile does",
                )
            )
        return chosen, backend  # type: ignore[return-value]  (checked structurally just above)

    async def aclose(self) -> None:
        """Close every adapter's connections."""
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
        self._capabilities.clear()
