"""What every wire family of one sandbox server shares: the engine, the fault plan, the counters, the settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import anyio

from .engine import Engine
from .faults import FaultPlan
from .stats import Stats

__all__ = ["DEFAULT_API_KEY", "SandboxContext"]

DEFAULT_API_KEY = "hk_test_sandbox"


@dataclass
class SandboxContext:
    """Shared state handed to each family's app factory.

    `closing` is set when the server shuts down, so open event streams end at once instead of holding the shutdown.
    `keepalive_seconds` (when set) overrides a family's own keep-alive interval; `token_secret` signs interrupt
    tokens; `token_ttl_seconds` is their default lifetime.
    """

    engine: Engine
    faults: FaultPlan = field(default_factory=FaultPlan)
    stats: Stats = field(default_factory=Stats)
    api_key: str = DEFAULT_API_KEY
    keepalive_seconds: float | None = None
    token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    token_ttl_seconds: float = 1800.0
    closing: anyio.Event = field(default_factory=anyio.Event)
