"""What the orchagent handlers of one app share: users and tokens, threads, runs, secrets and tool approvals.

Everything here lives on the sandbox server's loop; handlers mutate it between awaits only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from ..context import SandboxContext
from ..engine import Engine
from ..runs import RunRecord

__all__ = [
    "VARIANTS",
    "Approval",
    "OrchagentState",
    "OrchagentVariant",
    "RunInfo",
    "ThreadRecord",
    "User",
    "deep_merge",
    "resolve_variant",
]

SANDBOX_USER = "usr_sandbox"


@dataclass(frozen=True)
class OrchagentVariant:
    """How this server differs from the reference where real servers may differ (docs/backends/orchagent.md).

    `close_after_end`: close the stream after `run.completed`/`error` (else hold it open, keep-alives only).
    `gate_fields`: where `auth.required` puts `instruction` and `redirect_url` (`details`, as the CLI reads them,
    or `top`, as the README reads). `echo_secrets`: a careless server that echoes the run's merged secrets in its
    events (for leak tests). `keepalive_seconds`: the comment interval while nothing happens.
    """

    name: str = "reference"
    close_after_end: bool = True
    gate_fields: Literal["details", "top"] = "details"
    echo_secrets: bool = False
    keepalive_seconds: float = 15.0


VARIANTS: dict[str, OrchagentVariant] = {
    "reference": OrchagentVariant(),
    "held-open": OrchagentVariant(name="held-open", close_after_end=False),
    "top-level": OrchagentVariant(name="top-level", gate_fields="top"),
    "leaky": OrchagentVariant(name="leaky", echo_secrets=True),
}


def resolve_variant(variant: str | OrchagentVariant | Mapping[str, Any] | None) -> OrchagentVariant:
    if variant is None:
        return VARIANTS["reference"]
    if isinstance(variant, OrchagentVariant):
        return variant
    if isinstance(variant, str):
        try:
            return VARIANTS[variant]
        except KeyError:
            raise ValueError(f"unknown orchagent variant {variant!r}; known: {', '.join(VARIANTS)}") from None
    overrides: dict[str, Any] = {"name": "custom", **dict(variant)}
    return OrchagentVariant(**overrides)


def deep_merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win key by key; nested objects merge (the server's secret precedence:
    docs/backends/orchagent.md)."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            current = out.get(key)
            if isinstance(value, Mapping) and isinstance(current, dict):
                out[key] = deep_merge(cast(dict[str, Any], current), cast(Mapping[str, Any], value))
            elif isinstance(value, Mapping):
                out[key] = deep_merge(cast(Mapping[str, Any], value))
            else:
                out[key] = value
    return out


@dataclass
class User:
    user_id: str
    email: str
    salt: bytes
    digest: bytes
    profile: str | None = None

    def check(self, password: str) -> bool:
        return hmac.compare_digest(self.digest, _digest(password, self.salt))


def _digest(password: str, salt: bytes) -> bytes:
    # Few iterations: this is a loopback test server, and tests log in often.
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 1_000)


@dataclass
class ThreadRecord:
    thread_id: str
    owner: str
    workflow_id: str
    spec: dict[str, Any]
    workflow_secrets: dict[str, Any] = field(default_factory=dict[str, Any])
    secrets: dict[str, Any] = field(default_factory=dict[str, Any])
    run_ids: list[str] = field(default_factory=list[str])


@dataclass
class RunInfo:
    """What the orchagent layer keeps beside the engine's run: its thread, prompt and merged secrets."""

    run_id: str
    thread_id: str
    owner: str
    user_prompt: str
    created_at: str
    secrets: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class Approval:
    run_id: str
    server: str
    tool: str
    args_keys: tuple[str, ...]
    user_id: str


class OrchagentState:
    """The app's variant and records, over the sandbox's shared context."""

    def __init__(self, ctx: SandboxContext, variant: OrchagentVariant) -> None:
        self.ctx = ctx
        self.variant = variant
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}
        self.threads: dict[str, ThreadRecord] = {}
        self.runs: dict[str, RunInfo] = {}
        self.approvals: list[Approval] = []
        # Tool-approval gates, by (run id, interrupt id): shown on some stream, or passed because pre-approved.
        # Each gate is decided once, so that every replay of a run's stream is the same list of events.
        self.shown: set[tuple[str, str]] = set()
        self.auto_passed: set[tuple[str, str]] = set()
        self._counter = 0

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def keepalive_seconds(self) -> float:
        override = self.ctx.keepalive_seconds
        return override if override is not None else self.variant.keepalive_seconds

    def next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{secrets.token_hex(2)}{self._counter:03d}"

    # -- users and tokens --------------------------------------------------------------------------------------

    def register(self, email: str, password: str, profile: str | None) -> User:
        salt = secrets.token_bytes(16)
        user = User(self.next_id("usr"), email, salt, _digest(password, salt), profile)
        self.users[email.lower()] = user
        return user

    def issue_token(self, user: User) -> str:
        token = f"oa_{secrets.token_urlsafe(24)}"
        self.tokens[token] = user.user_id
        return token

    def user_for(self, token: str) -> str | None:
        """The user a bearer token belongs to; the sandbox's own key is a token of a built-in user."""
        if token and hmac.compare_digest(token, self.ctx.api_key):
            return SANDBOX_USER
        return self.tokens.get(token)

    # -- runs ----------------------------------------------------------------------------------------------------

    def reply_of(self, info: RunInfo, run: RunRecord) -> str:
        """The assistant's answer a completed run gives (its workflow's result, with the prompt filled in)."""
        text = (run.workflow.result or f"{run.workflow.name} finished.").replace("{user_prompt}", info.user_prompt)
        if self.variant.echo_secrets:
            text += f" (answered with the secrets {json.dumps(info.secrets, sort_keys=True)})"
        return text

    def history(self, thread: ThreadRecord) -> list[dict[str, Any]]:
        """The thread's messages in order: each run's user message, then its answer once the run completed."""
        items: list[dict[str, Any]] = []
        for run_id in thread.run_ids:
            info = self.runs[run_id]
            meta = json.dumps({"run_id": run_id})
            items.append(
                {"role": "user", "content": info.user_prompt, "meta_json": meta, "created_at": info.created_at}
            )
            run = self.engine.get_run(run_id)
            if run.status == "completed":
                created = run.completed_at or info.created_at
                items.append(
                    {"role": "assistant", "content": self.reply_of(info, run), "meta_json": meta, "created_at": created}
                )
        return items

    def approved(self, run_id: str, server: str, tool: str) -> bool:
        return any(a.run_id == run_id and a.tool == tool and a.server == server for a in self.approvals)
