"""What the platform handlers of one app share: the seeded account, the daily call quota, forced rate limits, and
the variant (how the answers are wrapped).

Everything here lives on the sandbox server's loop; handlers mutate it between awaits only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..context import SandboxContext
from .catalogue import ORG, PERSONAL_WS, AgentVersion
from .data import Seeded, WorkspaceRun, seed

__all__ = ["VARIANTS", "ForcedLimit", "PlatformState", "PlatformVariant", "resolve_variant"]


@dataclass(frozen=True)
class PlatformVariant:
    """How answers are shaped. `reference`: management answers are bare objects and arrays, as the official CLI reads
    them (agent calls and errors always use the documented envelopes); `enveloped`: every success is wrapped in
    `{data, metadata}`, as the API overview documents. `daily_limit`: the call quota of the account's plan."""

    name: str = "reference"
    envelope_everything: bool = False
    daily_limit: int = 1000


VARIANTS: dict[str, PlatformVariant] = {
    "reference": PlatformVariant(),
    "enveloped": PlatformVariant(name="enveloped", envelope_everything=True),
}


def resolve_variant(variant: str | PlatformVariant | Mapping[str, Any] | None) -> PlatformVariant:
    if variant is None:
        return VARIANTS["reference"]
    if isinstance(variant, PlatformVariant):
        return variant
    if isinstance(variant, str):
        try:
            return VARIANTS[variant]
        except KeyError:
            raise ValueError(f"unknown platform variant {variant!r}; known: {', '.join(VARIANTS)}") from None
    overrides: dict[str, Any] = {"name": "custom", **dict(variant)}
    return PlatformVariant(**overrides)


@dataclass
class ForcedLimit:
    """The next `count` requests (matching `path_prefix`) are refused with 429, whatever the quota says."""

    count: int
    path_prefix: str = "/"
    suggested_wait: float | None = None
    retryable: bool = True
    code: str = "RATE_LIMITED"


@dataclass
class PlatformState:
    ctx: SandboxContext
    variant: PlatformVariant
    data: Seeded = field(default_factory=seed)
    remaining: int = -1  # calls left today (-1: the plan's limit)
    reset_at: float = 0.0  # Unix seconds when the quota resets
    forced: list[ForcedLimit] = field(default_factory=list[ForcedLimit])
    requests: int = 0

    def __post_init__(self) -> None:
        if self.remaining < 0:
            self.remaining = self.variant.daily_limit
        if not self.reset_at:
            self.reset_at = _next_midnight()

    # -- who is calling -------------------------------------------------------------------------------------------

    def authorised(self, token: str) -> bool:
        return bool(token) and token == self.ctx.api_key

    @property
    def org(self) -> str:
        return ORG

    # -- the quota ------------------------------------------------------------------------------------------------

    def quota_headers(self) -> dict[str, str]:
        if time.time() >= self.reset_at:  # a new day
            self.remaining, self.reset_at = self.variant.daily_limit, _next_midnight()
        return {
            "X-RateLimit-Limit": str(self.variant.daily_limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(int(self.reset_at)),
        }

    def take_forced(self, path: str) -> ForcedLimit | None:
        for limit in self.forced:
            if limit.count > 0 and path.startswith(limit.path_prefix):
                limit.count -= 1
                if limit.count == 0:
                    self.forced.remove(limit)
                return limit
        return None

    def configure(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /_sandbox/platform`: set the quota (`remaining`, `reset_in`), force 429s (`rate_limit: {count,
        path_prefix, suggested_wait, retryable, code}`), set the balance (`balance_cents`), or add and remove
        workspace secrets (`secrets: {NAME: true|false}`)."""
        if "remaining" in doc:
            self.remaining = int(doc["remaining"])
        if "reset_in" in doc:
            self.reset_at = time.time() + float(doc["reset_in"])
        if isinstance(doc.get("rate_limit"), dict):
            self.forced.append(ForcedLimit(**doc["rate_limit"]))
        if "balance_cents" in doc:
            self.data.balance_cents = int(doc["balance_cents"])
        for name, present in dict(doc.get("secrets") or {}).items():
            self.set_secret(PERSONAL_WS, str(name), bool(present))
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {
            "variant": self.variant.name,
            "remaining": self.remaining,
            "limit": self.variant.daily_limit,
            "reset_at": int(self.reset_at),
            "balance_cents": self.data.balance_cents,
            "forced": [vars(f) for f in self.forced],
            "runs": len(self.data.runs),
        }

    # -- the account ----------------------------------------------------------------------------------------------

    def secret_names(self, workspace_id: str) -> set[str]:
        return {s["name"] for s in self.data.secrets.get(workspace_id, [])}

    def set_secret(self, workspace_id: str, name: str, present: bool) -> None:
        """Add, update (the record keeps its id, kind and creation time) or remove workspace secret `name`."""
        secrets = self.data.secrets.setdefault(workspace_id, [])
        now = datetime.now(UTC).isoformat(timespec="seconds")
        existing = next((s for s in secrets if s["name"] == name), None)
        if present and existing is not None:
            existing["updated_at"] = now
            return
        kept = [s for s in secrets if s["name"] != name]
        if present:
            kept.append(
                {
                    "id": f"sec_{name.lower()}",
                    "name": name,
                    "description": None,
                    "secret_type": "custom",
                    "llm_provider": None,
                    "created_by": "usr_acme",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        self.data.secrets[workspace_id] = kept

    def live_agents(self) -> list[AgentVersion]:
        return [a for a in self.data.agents if not a.deleted]

    def find_version(self, org: str, name: str, version: str) -> AgentVersion | None:
        """One version (`latest`: the newest) an account may see: public ones, and its own organisation's."""
        matching = [a for a in self.live_agents() if a.org == org and a.name == name and (a.is_public or org == ORG)]
        if version == "latest":
            return max(matching, key=lambda a: a.created_at, default=None)
        return next((a for a in matching if a.version == version), None)

    def own_agent(self, agent_id: str) -> AgentVersion | None:
        return next((a for a in self.live_agents() if a.id == agent_id and a.org == ORG), None)

    def any_agent(self, agent_id: str) -> AgentVersion | None:
        return next((a for a in self.live_agents() if a.id == agent_id), None)

    def workspace_ids(self) -> set[str]:
        return {w["id"] for w in self.data.workspaces}

    def runs_of(self, workspace_id: str) -> list[WorkspaceRun]:
        return [r for r in self.data.runs if r.workspace_id == workspace_id]

    def find_run(self, workspace_id: str, run_id: str) -> WorkspaceRun | None:
        return next((r for r in self.data.runs if r.id == run_id and r.workspace_id == workspace_id), None)


def _next_midnight() -> float:
    now = datetime.now(UTC)
    return (now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).timestamp()
