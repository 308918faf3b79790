"""The orchagent.io platform wire family of the sandbox (docs/backends/platform.md): the public catalogue, the
account's agents, agent calls (synchronous, or streamed for managed-loop agents), the workspace's run history, the
envelopes, the daily quota with its headers and the precondition errors, over a seeded month of use (`data.py`).

Steer it with `POST /_sandbox/platform` (`state.PlatformState.configure`): the quota left, forced 429s, the
balance, workspace secrets.
"""

from .app import ROUTE_GROUPS, build_app
from .catalogue import ORG, OTHER_ORG, PERSONAL_WS, TEAM_WS, AgentVersion
from .data import TENANTS, Seeded, WorkspaceRun, seed
from .state import VARIANTS, PlatformState, PlatformVariant, resolve_variant

__all__ = [
    "ORG",
    "OTHER_ORG",
    "PERSONAL_WS",
    "ROUTE_GROUPS",
    "TEAM_WS",
    "TENANTS",
    "VARIANTS",
    "AgentVersion",
    "PlatformState",
    "PlatformVariant",
    "Seeded",
    "WorkspaceRun",
    "build_app",
    "resolve_variant",
    "seed",
]
