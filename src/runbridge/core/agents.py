"""Agents a backend hosts (a catalogue entry, a workspace's own agent) and a call to one.

Every family with agents translates its own shapes into these; the `agents` toolset speaks only these. An agent
call is a run: `AgentCallAPI.call_agent` returns a `Run`, followed like any other (`RunsAPI.watch`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Agent", "AgentCallRequest", "AgentScope"]

AgentScope = Literal["public", "workspace"]
"""Which agents a list shows: a public catalogue, or the agents of the account's own workspace."""


class Agent(BaseModel):
    """One agent. `id` is what the other agent tools take (a family's own key, id or `org/name/version`);
    `details` holds a family's extras (pricing, run mode, endpoints, download info), never a secret."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    description: str | None = None
    version: str | None = None
    tags: list[str] = Field(default_factory=list)
    visibility: str | None = Field(default=None, description="public, private, ... as the backend says.")
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class AgentCallRequest(BaseModel):
    """What a caller asks of `AgentCallAPI.call_agent`.

    `input` is the agent's input object (per its input schema); `message` a text prompt, for families whose agents
    take one. `version` and `endpoint` address one version and entry point where the family has them (None: the
    family's default). `stream` asks for live progress where the agent can give it (None: the family decides).
    `options` are pass-through, family-specific options; a family refuses one it does not know. The idempotency
    key is minted by the bridge, once per call.
    """

    model_config = ConfigDict(extra="forbid")

    agent_id: str
    version: str | None = None
    endpoint: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None
    stream: bool | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
