"""Opening the Redis run store from the configuration: the optional `redis` package missing, a Redis that cannot be
reached or refuses the password are configuration errors saying what to do, before serving starts."""

from __future__ import annotations

from ..core.errors import ConfigError
from .store import RunStore

__all__ = ["check_redis", "redis_store"]

_MISSING = (
    "[server] state_url names a Redis, and the Redis client is not installed: install runbridge with its redis "
    "extra (pip install 'runbridge[redis]'), or remove state_url to keep the run store in a local file."
)


def redis_store(url: str, password: str | None) -> RunStore:
    """The run store in Redis at `url`."""
    try:
        from .redis_store import RedisStore
    except ImportError:
        raise ConfigError(_MISSING) from None
    return RedisStore(url, password=password)


def check_redis(url: str, password: str | None) -> None:
    """Reach the Redis at `url` once (PING), or raise `ConfigError` saying why not."""
    try:
        from redis import exceptions

        from .redis_store import open_redis_sync, redis_location
    except ImportError:
        raise ConfigError(_MISSING) from None

    where = redis_location(url)
    client = open_redis_sync(url, password)
    try:
        client.ping()  # pyright: ignore[reportUnknownMemberType]
    except exceptions.AuthenticationError:
        raise ConfigError(
            f"The Redis at {where} refused runbridge's credentials: set $RUNBRIDGE_REDIS_PASSWORD to its password."
        ) from None
    except exceptions.RedisError as exc:
        raise ConfigError(
            f"Cannot reach the run store's Redis at {where} ({exc.__class__.__name__}): start it, or fix [server] "
            "state_url in runbridge.toml."
        ) from None
    finally:
        client.close()
