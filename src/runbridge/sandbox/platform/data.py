"""The platform sandbox's account, as a real one would look after a month of use: agents of two organisations
(several versions, public and private, free and paid, a managed-loop agent that streams, one that needs the
caller's LLM key, one that needs workspace secrets), two workspaces, two tenants, 30 days of calls with tokens and
cost, schedules, services, secrets (names only) and a credit balance.

Everything is made from a fixed seed, so two sandboxes hold the same data; the clock is the real one (the 30 days
end now).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .catalogue import ORG, PERSONAL_WS, TEAM_WS, AgentVersion, iso, stable_id
from .catalogue import agents as catalogue_agents

__all__ = ["TENANTS", "Seeded", "WorkspaceRun", "seed"]

TENANTS = ("tenant-north", "tenant-south")


@dataclass
class WorkspaceRun:
    """One call as the workspace's run history keeps it (`/workspaces/{id}/runs`)."""

    id: str
    workspace_id: str
    agent_name: str
    agent_version: str
    org: str
    status: str  # running | completed | failed | timeout
    trigger_source: str  # api | cli | schedule | webhook | agent
    started_at: datetime
    duration_ms: int | None = None
    error_message: str | None = None
    input_data: dict[str, Any] = field(default_factory=dict[str, Any])
    output_data: Any = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_cents: float = 0.0
    tenant: str | None = None
    endpoint: str = "analyze"
    stdout: str | None = None
    stderr: str | None = None
    exit_code: int | None = None
    log: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])  # progress events, streamed calls


_TRIGGERS = ("api", "api", "api", "cli", "schedule", "webhook")


def _history(now: datetime, agents: list[AgentVersion], rng: random.Random) -> list[WorkspaceRun]:
    """30 days of calls to the account's own agents, 3 to 14 a day, in both tenants, some failed."""
    own = [a for a in agents if a.org == ORG and a.behaviour != "fail"]
    runs: list[WorkspaceRun] = []
    for day in range(30, 0, -1):
        for _ in range(rng.randint(3, 14)):
            agent = rng.choice(own)
            started = now - timedelta(days=day, seconds=rng.randint(0, 86_000))
            failed = rng.random() < 0.08
            tokens_in, tokens_out = rng.randint(200, 6000), rng.randint(50, 1500)
            cost = round((tokens_in * 0.15 + tokens_out * 0.6) / 10_000 + agent.price_per_call_cents, 4)
            runs.append(
                WorkspaceRun(
                    id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    workspace_id=agent.workspace_id,
                    agent_name=agent.name,
                    agent_version=agent.version,
                    org=agent.org,
                    status="failed" if failed else "completed",
                    trigger_source=rng.choice(_TRIGGERS),
                    started_at=started,
                    duration_ms=rng.randint(300, 45_000),
                    error_message="Upstream timeout after 30s" if failed else None,
                    input_data={"text": f"sample input {day}"},
                    output_data=None if failed else {"summary": f"sample output {day}"},
                    input_tokens=tokens_in,
                    output_tokens=0 if failed else tokens_out,
                    cost_cents=0.0 if failed else cost,
                    tenant=rng.choice(TENANTS),
                    endpoint=agent.default_endpoint,
                )
            )
    runs.sort(key=lambda r: r.started_at)
    return runs


@dataclass
class Seeded:
    """The whole account, as first served."""

    agents: list[AgentVersion]
    runs: list[WorkspaceRun]
    workspaces: list[dict[str, Any]]
    members: dict[str, list[dict[str, Any]]]
    secrets: dict[str, list[dict[str, Any]]]
    schedules: dict[str, list[dict[str, Any]]]
    services: dict[str, list[dict[str, Any]]]
    api_keys: list[dict[str, Any]]
    balance_cents: int
    transactions: list[dict[str, Any]]


def _secret(name: str, created: datetime, kind: str = "custom", provider: str | None = None) -> dict[str, Any]:
    return {
        "id": stable_id("secret", name),
        "name": name,
        "description": None,
        "secret_type": kind,
        "llm_provider": provider,
        "created_by": "usr_acme",
        "created_at": iso(created),
        "updated_at": iso(created),
    }


def _schedule(ws: str, name: str, agent: AgentVersion, now: datetime, **extra: Any) -> dict[str, Any]:
    doc = {
        "id": stable_id("schedule", name),
        "workspace_id": ws,
        "agent_id": agent.id,
        "agent_name": agent.name,
        "agent_version": agent.version,
        "schedule_type": "cron",
        "cron_expression": "0 9 * * *",
        "timezone": "UTC",
        "input_data": {"text": "daily digest"},
        "llm_provider": None,
        "enabled": True,
        "auto_update": False,
        "last_run_at": iso(now - timedelta(hours=5)),
        "last_run_status": "completed",
        "next_run_at": iso(now + timedelta(hours=19)),
        "run_count": 30,
        "consecutive_failures": 0,
        "max_consecutive_failures": 5,
        "auto_disabled_at": None,
        "alert_webhook_url": None,
        "alert_on_failure_count": 3,
        "created_at": iso(now - timedelta(days=31)),
    }
    doc.update(extra)
    return doc


def seed(now: datetime | None = None, *, seed_value: int = 17) -> Seeded:
    now = now or datetime.now(UTC)
    rng = random.Random(seed_value)  # noqa: S311  (sample data, not crypto)
    agents = catalogue_agents(now)
    runs = _history(now, agents, rng)
    by_name = {a.name: a for a in agents if a.org == ORG}
    workspaces = [
        {"id": PERSONAL_WS, "name": "Acme", "slug": ORG, "type": "personal"},
        {"id": TEAM_WS, "name": "Acme Research", "slug": "acme-research", "type": "team"},
    ]
    members = {
        PERSONAL_WS: [{"user_id": "usr_acme", "email": "owner@acme.example", "role": "owner"}],
        TEAM_WS: [
            {"user_id": "usr_acme", "email": "owner@acme.example", "role": "owner"},
            {"user_id": "usr_rita", "email": "rita@acme.example", "role": "member"},
        ],
    }
    month_ago = now - timedelta(days=30)
    secrets = {
        PERSONAL_WS: [_secret("SLACK_CHANNEL", month_ago), _secret("OPENAI_KEY", month_ago, "llm_key", "openai")],
        TEAM_WS: [_secret("DATABASE_URL", month_ago)],
    }
    schedules = {
        PERSONAL_WS: [
            _schedule(PERSONAL_WS, "daily-summary", by_name["summarizer"], now),
            _schedule(
                PERSONAL_WS,
                "invoice-hook",
                by_name["invoice-scanner"],
                now,
                schedule_type="webhook",
                cron_expression=None,
                webhook_secret_preview="whsec_…3f9a",  # noqa: S106  (a preview, no secret)
                next_run_at=None,
            ),
        ],
        TEAM_WS: [_schedule(TEAM_WS, "nightly", by_name["nightly-report"], now, cron_expression="0 2 * * *")],
    }
    services = {
        PERSONAL_WS: [
            {
                "id": stable_id("service", "notifier"),
                "service_name": "notifier",
                "agent_name": "slack-notifier",
                "agent_version": "v1",
                "current_state": "running",
                "health_status": "healthy",
                "created_at": iso(now - timedelta(days=12)),
            }
        ],
        TEAM_WS: [],
    }
    api_keys = [
        {
            "id": stable_id("key", "default"),
            "name": "default",
            "prefix": "sk_live_a1b2",
            "created_at": iso(month_ago),
            "last_used_at": iso(now - timedelta(hours=1)),
        },
    ]
    spent = round(sum(r.cost_cents for r in runs))
    transactions = [
        {
            "amount_cents": 5000,
            "balance_after_cents": 5000,
            "transaction_type": "purchase",
            "created_at": iso(now - timedelta(days=45)),
            "reference_id": "cs_test_1",
        },
        {
            "amount_cents": -spent,
            "balance_after_cents": 5000 - spent,
            "transaction_type": "usage",
            "created_at": iso(now - timedelta(days=1)),
        },
    ]
    return Seeded(agents, runs, workspaces, members, secrets, schedules, services, api_keys, 5000 - spent, transactions)
