"""The server's long-lived parts, created once per server lifespan (`App`); tools reach it through the MCP context.

Each part has one job:

* `settings`: the configuration; `registry`: the run store; `tasks`: the server's task group;
* `adapters` (`bridge/adapters.py`): one backend adapter per profile, and which profile can do what;
* `sightings` (`bridge/sightings.py`): which profile a run or gate was seen on;
* `calls` (`bridge/calls.py`): the tool calls in progress, for a graceful stop;
* `secrets` (`core/secret_policy.py`): what a tool call may reference as a secret;
* `subscriptions` (`bridge/subscriptions.py`): the run resources followed for subscribers.

`App` itself only builds them and closes them, in order.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from anyio.abc import TaskGroup

from ..core.config import Settings
from ..core.errors import ConfigError
from ..core.secret_policy import REDIS_PASSWORD_ENV, SecretPolicy
from ..state import RunStore, SqliteStore
from .adapters import Adapters
from .calls import Calls
from .sightings import Sightings

if TYPE_CHECKING:
    from .subscriptions import RunSubscriptions

__all__ = ["App", "open_store"]


def open_store(settings: Settings) -> RunStore:
    """The run store `settings` name: Redis at `state_url` (shared by replicas), else the SQLite file at
    `state_path`."""
    if settings.state_url is None:
        return SqliteStore(settings.state_path)
    from ..state.redis_check import redis_store  # the optional extra runbridge[redis]

    return redis_store(settings.state_url, os.environ.get(REDIS_PASSWORD_ENV))


class App:
    """The parts of one running server (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        registry: RunStore,
        tasks: TaskGroup | None = None,
        secrets: SecretPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.tasks = tasks
        self.secrets = secrets or SecretPolicy(settings)
        self.adapters = Adapters(settings, tasks)
        if settings.shared_state and tasks is not None:  # streams only this process reads go to the shared store
            from .local_streams import StoreKeeper  # it builds on App

            lease = settings.follow_lease_seconds
            self.adapters.keeper = lambda profile: StoreKeeper(registry, profile, tasks, lease_seconds=lease)
        self.sightings = Sightings(settings, registry)
        self.calls = Calls()
        self._subscriptions: RunSubscriptions | None = None

    @classmethod
    def open(cls, settings: Settings, tasks: TaskGroup | None = None, *, protect_env: Iterable[str] = ()) -> App:
        """`tasks`: the server's task group, for adapters whose streams must outlive one tool call; `protect_env`:
        environment variables holding credentials beyond the profiles' (the HTTP bearer token's)."""
        policy = SecretPolicy(settings, protect_env=protect_env)
        return cls(settings, open_store(settings), tasks, policy)

    @staticmethod
    def check_state(settings: Settings) -> None:
        """Open (and close) the run registry once, so that a state path runbridge cannot use (or a Redis it cannot
        reach) is a configuration error before serving starts, rather than a failure of the first session."""
        if settings.state_url is not None:
            from ..state.redis_check import check_redis  # the optional extra runbridge[redis]

            check_redis(settings.state_url, os.environ.get(REDIS_PASSWORD_ENV))
            return
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

    async def aclose(self) -> None:
        """Close the adapters' connections, then the run store."""
        await self.adapters.aclose()
        await self.registry.aclose()
