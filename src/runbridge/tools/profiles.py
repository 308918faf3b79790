"""The profiles toolset: which backends this server is configured for."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel

from ..core.errors import RunbridgeError
from ..core.protocols import capabilities_of
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]


class ProfileInfo(BaseModel):
    name: str
    family: str
    base_url: str
    default: bool
    capabilities: list[str]
    workflows: list[str]
    problem: str | None = None


class ProfilesResult(BaseModel):
    profiles: list[ProfileInfo]


async def profiles_list(ctx: Context[Any, Any]) -> ProfilesResult:
    """The configured backend profiles: family, address and what each can do. Pass a name as `profile`."""
    app = app_of(ctx)
    settings = app.settings
    default = settings.profile(None).name if settings.profiles else None
    infos: list[ProfileInfo] = []
    for name, profile in settings.profiles.items():
        problem = None
        capabilities: list[str] = []
        try:
            _, backend = app.adapters.get(name)
            capabilities = sorted(capabilities_of(backend))
        except RunbridgeError as exc:
            problem = str(exc)
        infos.append(
            ProfileInfo(
                name=name,
                family=profile.family,
                base_url=profile.base_url,
                default=name == default,
                capabilities=capabilities,
                workflows=profile.workflows,
                problem=problem,
            )
        )
    return ProfilesResult(profiles=infos)


SPECS = [ToolSpec(profiles_list, "profiles", "List profiles", read_only=True, open_world=False)]
