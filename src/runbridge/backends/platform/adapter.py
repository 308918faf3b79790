"""The orchagent.io platform adapter (docs/backends/platform.md): one class made of one part per job, each in its
own module over the shared HTTP layer (`client.PlatformHttp`).

A part is a mixin that reads `self.wire` (the HTTP layer), `self.profile` and `self.options`, and implements the
capability protocols of its job. Adding a part (usage views, administration) is one module and one line in the
bases of `PlatformBackend`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from anyio.abc import TaskGroup

from ...core.config import Profile
from ...core.errors import BackendError
from ...core.models import HostInfo
from ...http import HttpClient
from .admin import PlatformAdmin
from .agents import AgentCatalogue
from .calls import AgentCalls, Call
from .client import PlatformHttp
from .runs import WorkspaceRuns
from .spec import PlatformOptions
from .usage import PlatformUsage

__all__ = ["PlatformBackend"]


def _stream_profile(profile: Profile, options: PlatformOptions) -> Profile:
    # A call's answer comes when the agent is done, and a stream has no keep-alives: the profile's stream read
    # timeout is the option's, unless the profile sets one on purpose.
    if "stream_read_timeout" in profile.model_fields_set:
        return profile
    return profile.model_copy(update={"stream_read_timeout": options.stream_idle_seconds})


class PlatformBackend(
    AgentCatalogue,  # the catalogue, the account's agents, their management (`agents.py`)
    AgentCalls,  # agent calls as runs (`calls.py`)
    WorkspaceRuns,  # the workspace's runs and logs (`runs.py`)
    PlatformUsage,  # usage and cost as the platform keeps it (`usage.py`)
    PlatformAdmin,  # schedules, services, workspaces, secrets, billing, API keys (`admin.py`)
    # usage views (`usage.py`) and administration (`admin.py`) are parts added here, one line each
):
    """Implements, through its parts, the capability protocols of one orchagent.io account."""

    family = "platform"

    def __init__(
        self,
        profile: Profile,
        http: HttpClient | None = None,
        *,
        tasks: TaskGroup | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.profile = profile
        self.options = profile.typed_options(PlatformOptions)
        self.env = os.environ if env is None else env
        self.tasks = tasks  # the server's task group: agent calls are read in the background, past one tool call
        self.wire = PlatformHttp(_stream_profile(profile, self.options), self.options, http)
        self.calls: dict[str, Call] = {}  # the calls made in this process, by run id
        self.located: dict[str, dict[str, str]] = {}  # calls made elsewhere, by their `call_…` id: their locators

    async def aclose(self) -> None:
        await self.wire.aclose()

    async def host_info(self) -> HostInfo:
        """Whether the public catalogue answers at `base_url` (the platform publishes no discovery document)."""
        try:
            answer = await self.wire.call("GET", "/public/agents", action="read the public catalogue", anonymous=True)
        except BackendError as exc:
            return HostInfo(available=False, note=f"The public catalogue did not answer ({exc.status or 'error'}).")
        if not isinstance(answer.data, list):
            return HostInfo(available=False, foreign="GET /public/agents did not answer with a list of agents")
        limits = {k: v for k, v in (("daily_calls", self.wire.quota.limit),) if v is not None}
        return HostInfo(available=True, server="orchagent.io", limits=limits, capabilities=["agents", "agent_calls"])
