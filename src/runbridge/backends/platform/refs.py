"""Agent references: `org/agent@version` (the platform's own notation), `org/agent/version` (its URL path) and
`org/agent` (the latest version), or an agent's id (a UUID, for the account's own agents)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...core.errors import InputError

__all__ = ["AgentRef", "parse_ref"]

_SLUG = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_REF = re.compile(rf"^(?P<org>{_SLUG})/(?P<name>{_SLUG})(?:[@/](?P<version>{_SLUG}))?$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


@dataclass(frozen=True)
class AgentRef:
    org: str
    name: str
    version: str = "latest"

    def __str__(self) -> str:
        return f"{self.org}/{self.name}@{self.version}"

    def with_version(self, version: str | None) -> AgentRef:
        return self if not version else AgentRef(self.org, self.name, version)

    @property
    def path(self) -> str:
        return f"{self.org}/{self.name}/{self.version}"


def parse_ref(agent_id: str) -> AgentRef | str:
    """An `AgentRef`, or the id itself when it is an agent id; anything else is refused."""
    text = agent_id.strip()
    match = _REF.match(text)
    if match:
        return AgentRef(match["org"], match["name"], match["version"] or "latest")
    if _ID.match(text):
        return text
    raise InputError(
        f"{agent_id[:80]!r} is not an orchagent.io agent: pass org/agent@version (or org/agent for the latest), "
        "or the id agents_list gives for one of your own agents."
    )
