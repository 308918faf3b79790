"""The server's long-lived state: settings, the run registry, and one backend adapter per profile."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncGenerator, Generator, Iterable
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import anyio
from anyio.abc import TaskGroup

from ..backends import adapter_class, create_backend
from ..core.config import Profile, Settings
from ..core.errors import ConfigError, NotFoundError, RunbridgeError, UnsupportedError, sentences
from ..core.protocols import Backend, capabilities_of
from ..core.secret_policy import SecretPolicy
from ..state import RunStore, SqliteStore

if TYPE_CHECKING:
    from .subscriptions import RunSubscriptions

__all__ = ["App"]

T = TypeVar("T")

STOPPING = (
    "runbridge is stopping, so this call ended before its run did: the run goes on, and where the call got to is "
    "saved. Once runbridge is back, call runs_watch with the run_id (runs_list shows it) to continue"
)


@dataclass
class App:
    """Created once per server lifespan; tools reach it through the MCP context."""

    settings: Settings
    registry: RunStore
    tasks: TaskGroup | None = None
    secret_policy: SecretPolicy | None = None
    _backends: dict[str, Backend] = field(default_factory=dict)
    _calls: int = 0
    _stopping: bool = False
    _scopes: set[anyio.CancelScope] = field(default_factory=set[anyio.CancelScope])
    _idle: anyio.Event = field(default_factory=anyio.Event)
    _capabilities: dict[str, frozenset[str]] = field(default_factory=dict)  # per profile: checked once, not per call
    _able: dict[str, list[str]] = field(default_factory=dict)  # per capability: the profiles whose family has it
    _subscriptions: RunSubscriptions | None = None

    @classmethod
    def open(cls, settings: Settings, tasks: TaskGroup | None = None, *, protect_env: Iterable[str] = ()) -> App:
        """`tasks`: the server's task group, for adapters whose streams must outlive one tool call; `protect_env`:
        environment variables holding credentials beyond the profiles' (the HTTP bearer token's)."""
        policy = SecretPolicy(settings, protect_env=protect_env)
        return cls(settings=settings, registry=SqliteStore(settings.state_path), tasks=tasks, secret_policy=policy)

    @staticmethod
    def check_state(settings: Settings) -> None:
        """Open (and close) the run registry once, so that a state path runbridge cannot use is a configuration error
        before serving starts, rather than a failure of the first session."""
        if settings.state_path == ":memory:":
            return
        try:
            SqliteStore(settings.state_path).close()
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"Cannot open the run registry {settings.state_path} ({exc}); set [server] state_path in "
                "runbridge.toml to a file in a writable folder."
            ) from None

    @property
    def subscriptions(self) -> RunSubscriptions:
        """The run resources followed for subscribers (created on first use)."""
        if self._subscriptions is None:
            from .subscriptions import RunSubscriptions  # it builds on App

            self._subscriptions = RunSubscriptions(self)
        return self._subscriptions

    @property
    def secrets(self) -> SecretPolicy:
        """The policy every secret reference from a tool call passes before anything is read or sent."""
        if self.secret_policy is None:
            self.secret_policy = SecretPolicy(self.settings)
        return self.secret_policy

    def backend(self, profile: str | None) -> tuple[Profile, Backend]:
        """The profile (by name, or the default) and its adapter, created on first use."""
        chosen = self.settings.profile(profile)
        if chosen.name not in self._backends:
            self._backends[chosen.name] = create_backend(chosen, tasks=self.tasks)
        return chosen, self._backends[chosen.name]

    async def seen_on(self, *, run_id: str | None = None, gate_id: str | None = None) -> list[str]:
        """The profiles on which runbridge has recorded this run (or gate), in configuration order."""
        found: list[str] = []
        for name in self.settings.profiles:
            record = (
                await self.registry.get_run(name, run_id)
                if run_id
                else await self.registry.get_gate(name, gate_id or "")
            )
            if record is not None:
                found.append(name)
        return found

    async def locate(self, profile: str | None, *, run_id: str | None = None, gate_id: str | None = None) -> str | None:
        """The profile a call about a run (or gate) means: the one named; when none is named, the profile runbridge
        recorded the run on, if that is one profile and not the default; else None (the default profile). So a
        run started on another profile is found without the model having to repeat the profile."""
        if profile is not None or len(self.settings.profiles) < 2:
            return profile
        seen = await self.seen_on(run_id=run_id, gate_id=gate_id)
        if len(seen) != 1 or seen[0] == self.settings.profile(None).name:
            return profile
        return seen[0]

    async def elsewhere(self, profile: str, *, run_id: str | None = None, gate_id: str | None = None) -> str:
        """A sentence naming the other profiles runbridge saw this run (or gate) on, or ""."""
        others = [name for name in await self.seen_on(run_id=run_id, gate_id=gate_id) if name != profile]
        if not others:
            return ""
        what = f"run {run_id!r}" if run_id else f"gate {gate_id!r}"
        names = " or ".join(repr(name) for name in others)
        return f"runbridge saw {what} on profile {names}: call again with profile={names.split(' or ')[0]}."

    @asynccontextmanager
    async def hinting(
        self, profile: str, *, run_id: str | None = None, gate_id: str | None = None
    ) -> AsyncGenerator[None]:
        """A backend's "not found" for a run (or gate) runbridge saw on another profile also names that profile."""
        try:
            yield
        except NotFoundError as exc:
            hint = await self.elsewhere(profile, run_id=run_id, gate_id=gate_id)
            if hint:
                exc.message = sentences(exc.message, hint)
            raise

    def require(self, profile: str | None, capability: str, api: type[T]) -> tuple[Profile, T]:
        """The profile's adapter as `api`, or a clear error naming what this backend cannot do and which profiles
        can. With no profile named and a default that cannot, the one profile that can is used."""
        able = self._able.get(capability)
        if able is None:
            able = self._able[capability] = [
                name for name, p in self.settings.profiles.items() if capability in capabilities_of(adapter_class(p))
            ]
        if profile is None and len(able) == 1 and self.settings.profile(None).name not in able:
            profile = able[0]
        chosen, backend = self.backend(profile)
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

    @contextmanager
    def serving(self) -> Generator[None]:
        """Count one tool call in progress, so that shutdown can let it finish before the state is closed; a call
        that `stop_calls` ends is an error saying so (the model learns the run goes on and how to continue)."""
        if self._stopping:
            raise RunbridgeError(STOPPING)
        self._calls += 1
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                yield
        finally:
            self._scopes.discard(scope)
            self._calls -= 1
            if not self._calls:
                self._idle.set()
                self._idle = anyio.Event()
        if scope.cancelled_caught:
            raise RunbridgeError(STOPPING)

    async def stop_calls(self, within: float) -> None:
        """The graceful stop: end every tool call in progress (each saves where it got to and answers that
        runbridge is stopping, while the transport can still carry the answer), refuse new ones, and wait up to
        `within` seconds for them to be done."""
        self._stopping = True
        for scope in list(self._scopes):
            scope.cancel()
        await self.drain(within)

    async def drain(self, within: float) -> None:
        """Wait up to `within` seconds, even while being cancelled, for the tool calls in progress to end.

        A server that stops cancels its calls without waiting for them (uvicorn does so on the HTTP path); a call
        saves its cursor on the way out, which must happen before the registry closes.
        """
        with anyio.move_on_after(within, shield=True):
            while self._calls:
                await self._idle.wait()

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
        self._capabilities.clear()
        await self.registry.aclose()
