"""The agents of the platform sandbox: two organisations' agents, several versions, public and private, free and
paid, a managed-loop agent that streams, one that needs the caller's LLM key, one that needs workspace secrets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["ORG", "OTHER_ORG", "PERSONAL_WS", "TEAM_WS", "AgentVersion", "agents", "iso", "stable_id"]

ORG = "acme"  # the organisation the sandbox's key belongs to
OTHER_ORG = "joe"
PERSONAL_WS = "ws_acme_personal"
TEAM_WS = "ws_acme_research"
_NS = uuid.UUID("5f0e3c1a-7d3b-4a61-9a54-3cc1f0a1d2e7")


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


@dataclass
class AgentVersion:
    """One version of one agent, with what its calls do in the sandbox (`behaviour`)."""

    org: str
    name: str
    version: str
    description: str
    type: str = "prompt"
    execution_engine: str = "direct_llm"
    run_mode: str = "on_demand"
    callable: bool = True
    is_public: bool = True
    tags: list[str] = field(default_factory=list[str])
    default_endpoint: str = "analyze"
    input_schema: dict[str, Any] = field(default_factory=dict[str, Any])
    output_schema: dict[str, Any] = field(default_factory=dict[str, Any])
    pricing_mode: str = "free"
    price_per_call_cents: int = 0
    stars_count: int = 0
    fork_count: int = 0
    supported_providers: list[str] = field(default_factory=lambda: ["any"])
    requires_llm_key: bool = False
    required_secrets: list[str] = field(default_factory=list[str])
    allow_local_download: bool = True
    source_url: str | None = None
    behaviour: str = "summarize"  # summarize | scan | audit | translate | write | notify | fail
    max_turns: int = 0  # managed-loop agents: the turns a call takes
    created_at: str = ""
    deleted: bool = False
    id: str = ""
    workspace_id: str = PERSONAL_WS

    def __post_init__(self) -> None:
        self.id = self.id or stable_id(self.org, self.name, self.version)

    @property
    def ref(self) -> str:
        return f"{self.org}/{self.name}@{self.version}"

    @property
    def managed_loop(self) -> bool:
        return self.type == "agent" and self.execution_engine == "managed_loop"


_OBJ = "object"


def _schema(props: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {"type": _OBJ, "properties": {k: {"type": v} for k, v in props.items()}, "required": required}


def agents(now: datetime) -> list[AgentVersion]:
    def when(days: int) -> str:
        return iso(now - timedelta(days=days))

    text_in = _schema({"text": "string"}, ["text"])
    return [
        AgentVersion(
            ORG,
            "summarizer",
            "v1",
            "Summarises a text in three sentences.",
            tags=["text", "summary"],
            input_schema=text_in,
            output_schema=_schema({"summary": "string"}, ["summary"]),
            stars_count=41,
            fork_count=3,
            created_at=when(120),
            source_url="https://example.org/acme/sum",
        ),
        AgentVersion(
            ORG,
            "summarizer",
            "v2",
            "Summarises a text; now with bullet points.",
            tags=["text", "summary"],
            input_schema=text_in,
            output_schema=_schema({"summary": "string", "bullets": "array"}, ["summary"]),
            stars_count=41,
            fork_count=3,
            created_at=when(40),
            source_url="https://example.org/acme/sum",
        ),
        AgentVersion(
            ORG,
            "invoice-scanner",
            "v1",
            "Extracts vendor and amount from an invoice.",
            tags=["finance", "documents"],
            behaviour="scan",
            pricing_mode="per_call",
            price_per_call_cents=5,
            allow_local_download=False,
            stars_count=12,
            created_at=when(90),
            input_schema=text_in,
            output_schema=_schema({"vendor": "string", "amount": "number"}, ["vendor", "amount"]),
        ),
        AgentVersion(
            ORG,
            "repo-auditor",
            "v1",
            "Audits a repository with tools, turn by turn.",
            type="agent",
            execution_engine="managed_loop",
            behaviour="audit",
            max_turns=3,
            tags=["code", "security"],
            default_endpoint="run",
            stars_count=27,
            created_at=when(60),
            input_schema=_schema({"repo": "string"}, []),  # the current repository by default
            output_schema=_schema({"findings": "array", "summary": "string"}, ["summary"]),
        ),
        AgentVersion(
            ORG,
            "byok-writer",
            "v1",
            "Writes a draft with your own LLM key.",
            behaviour="write",
            requires_llm_key=True,
            allow_local_download=False,
            supported_providers=["openai", "anthropic"],
            tags=["text"],
            created_at=when(30),
            input_schema=_schema({"topic": "string"}, ["topic"]),
            output_schema=_schema({"draft": "string"}, ["draft"]),
        ),
        AgentVersion(
            ORG,
            "slack-notifier",
            "v1",
            "Posts a message to Slack.",
            type="tool",
            behaviour="notify",
            is_public=False,
            required_secrets=["SLACK_TOKEN", "SLACK_CHANNEL"],
            tags=["chat"],
            default_endpoint="run",
            created_at=when(20),
            input_schema=_schema({"message": "string"}, ["message"]),
            output_schema=_schema({"posted": "boolean"}, ["posted"]),
        ),
        AgentVersion(
            ORG,
            "nightly-report",
            "v3",
            "Compiles the nightly report (private).",
            is_public=False,
            behaviour="summarize",
            tags=["reports"],
            created_at=when(10),
            input_schema=text_in,
            output_schema=_schema({"summary": "string"}, ["summary"]),
            workspace_id=TEAM_WS,
        ),
        AgentVersion(
            ORG,
            "flaky",
            "v1",
            "Fails when asked to (for trying error handling).",
            behaviour="fail",
            is_public=False,
            tags=["test"],
            created_at=when(5),
            input_schema=text_in,
        ),
        AgentVersion(
            OTHER_ORG,
            "leak-finder",
            "v1",
            "Finds leaked secrets in a repository.",
            type="agent",
            execution_engine="managed_loop",
            behaviour="audit",
            max_turns=2,
            default_endpoint="run",
            tags=["security", "code"],
            stars_count=310,
            fork_count=22,
            created_at=when(200),
            source_url="https://example.org/joe/leak-finder",
            input_schema=_schema({"repo": "string"}, ["repo"]),
            output_schema=_schema({"findings": "array", "summary": "string"}, ["summary"]),
            workspace_id="ws_joe",
        ),
        AgentVersion(
            OTHER_ORG,
            "translator",
            "v1",
            "Translates text.",
            behaviour="translate",
            tags=["text", "i18n"],
            stars_count=88,
            created_at=when(150),
            workspace_id="ws_joe",
            input_schema=_schema({"text": "string", "to": "string"}, ["text", "to"]),
            output_schema=_schema({"translation": "string"}, ["translation"]),
        ),
        AgentVersion(
            OTHER_ORG,
            "translator",
            "v2",
            "Translates text, keeping formatting.",
            behaviour="translate",
            tags=["text", "i18n"],
            stars_count=88,
            created_at=when(15),
            workspace_id="ws_joe",
            input_schema=_schema({"text": "string", "to": "string"}, ["text", "to"]),
            output_schema=_schema({"translation": "string"}, ["translation"]),
        ),
    ]
