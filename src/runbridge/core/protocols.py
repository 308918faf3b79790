"""Capability protocols: what a backend adapter can do, in domain terms.

An adapter implements the protocols it can; the server shows a tool only where the profile's adapter implements
the capability the tool needs (`capabilities_of`). Every method raises from the error tree in `errors.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from .admin import AdminAPI
from .agents import Agent, AgentCallRequest, AgentScope
from .models import Gate, GateAnswer, HostInfo, Page, Run, RunEvent, StartRequest, Target
from .threads import HistoryItem, SecretRefs, Thread
from .usage_views import UsageViewsAPI

__all__ = [
    "AgentCallAPI",
    "AgentForkAPI",
    "AgentsAPI",
    "ApprovalsAPI",
    "Backend",
    "EventPage",
    "EventPagesAPI",
    "ForkAPI",
    "GatesAPI",
    "HostInfoAPI",
    "LocalStreamsAPI",
    "RunActionsAPI",
    "RunListAPI",
    "RunLocatorAPI",
    "RunsAPI",
    "StreamKeeper",
    "TargetsAPI",
    "ThreadSecretsAPI",
    "ThreadsAPI",
    "capabilities_of",
]


@runtime_checkable
class Backend(Protocol):
    """Every adapter: a family name, and a close for its connections."""

    family: str

    async def aclose(self) -> None: ...


@runtime_checkable
class TargetsAPI(Protocol):
    """Find what can be run."""

    async def list_targets(self, *, cursor: str | None = None, limit: int = 50) -> Page[Target]: ...

    async def describe_target(self, target_id: str) -> Target: ...


@runtime_checkable
class RunsAPI(Protocol):
    """Start, inspect, follow and cancel runs."""

    async def start_run(self, request: StartRequest) -> Run: ...

    async def get_run(self, run_id: str) -> Run: ...

    def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        """Every event after `cursor`, exactly once and in order, until the run's terminal event.

        Reconnects by itself after a dropped stream (resuming from the last event delivered) and ends after the
        terminal event. While the run waits on a gate the iterator simply waits too: the caller decides how long.
        """
        ...

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run: ...


@dataclass(frozen=True)
class EventPage:
    """A run's events after a cursor, as the backend had them. `complete`: the run's log is complete (its last event
    is among these, or at or before the cursor)."""

    events: list[RunEvent]
    complete: bool


@runtime_checkable
class EventPagesAPI(Protocol):
    """Read a run's past events in one request (a poll or replay endpoint), where a stream cannot tell the end of
    its backlog from a pause between events; not a tool capability, a faster way to the same events."""

    async def event_page(self, run_id: str, *, cursor: str | None = None) -> EventPage | None:
        """The events after `cursor` the backend has now, waiting about a second at most when it has none; None when
        this backend cannot answer so (read them with `watch`)."""
        ...


@runtime_checkable
class GatesAPI(Protocol):
    """Answer the human gates a run opens."""

    async def resolve_gate(self, gate: Gate, answer: GateAnswer) -> dict[str, Any]: ...


@runtime_checkable
class ForkAPI(Protocol):
    """Start a new run from a point in an existing run's history."""

    async def fork_run(self, run_id: str, *, from_seq: int | None = None, mode: str = "branch") -> Run: ...


@runtime_checkable
class RunListAPI(Protocol):
    """List runs known to the backend."""

    async def list_runs(
        self, *, cursor: str | None = None, limit: int = 50, target_id: str | None = None
    ) -> Page[Run]: ...

    def listed_id(self, locator: Mapping[str, str]) -> str | None:
        """The id `list_runs` shows a run of runbridge by, given the locator stored for it, when that is an id of
        the backend's own (not runbridge's run id); None when there is none (the usual case)."""
        ...


@runtime_checkable
class ThreadsAPI(Protocol):
    """Conversations the backend keeps: each message on a thread starts a run (followed with `RunsAPI.watch`).

    Secrets travel as references (`SecretRefs`): the adapter reads the values right before sending them, and no
    method returns a value.
    """

    async def create_thread(self, spec: Mapping[str, Any]) -> Thread: ...

    async def thread_history(self, thread_id: str, *, limit: int = 20) -> list[HistoryItem]:
        """The latest `limit` messages, oldest first."""
        ...

    async def send_message(
        self,
        thread_id: str,
        message: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        secrets: SecretRefs | None = None,
    ) -> Run: ...


@runtime_checkable
class ThreadSecretsAPI(Protocol):
    """Secrets stored on a thread, for every run on it (a backend whose threads keep none leaves this out, and the
    tool is not shown for it)."""

    async def set_thread_secrets(self, thread_id: str, secrets: SecretRefs) -> list[str]:
        """Store secrets on the thread; returns the key paths sent (never the values)."""
        ...


@runtime_checkable
class ApprovalsAPI(Protocol):
    """Pre-approve the tools a run may call without asking, and drop stored approvals."""

    async def approve_tool(
        self, run_id: str, tool: str, *, server: str = "mcp", args_keys: Sequence[str] = ()
    ) -> dict[str, Any]: ...

    async def clear_approvals(self, *, all: bool = False, user_id: str | None = None) -> dict[str, Any]: ...


@runtime_checkable
class AgentsAPI(Protocol):
    """Find and manage the agents a backend hosts (`core/agents.py`).

    `scope`: "public" (a catalogue anyone can call) or "workspace" (the account's own agents); None: the family's
    default; a family refuses a scope it has not. `sort`, `search` and `tags` narrow a list where the backend can
    (a family that cannot refuses them, rather than ignore them). `update_agent` takes a partial update in the
    family's own terms (fields the backend will not change are refused before the call, saying what to do
    instead). `delete_preview` says what deleting would affect, for the person confirming it (None: the backend
    cannot tell); the agents toolset always reads it before `delete_agent`.
    """

    async def list_agents(
        self,
        *,
        cursor: str | None = None,
        limit: int = 50,
        search: str | None = None,
        sort: str | None = None,
        tags: Sequence[str] | None = None,
        scope: AgentScope | None = None,
    ) -> Page[Agent]: ...

    async def get_agent(self, agent_id: str) -> Agent: ...

    async def create_agent(self, spec: Mapping[str, Any]) -> Agent: ...

    async def update_agent(self, agent_id: str, changes: Mapping[str, Any]) -> Agent: ...

    async def delete_preview(self, agent_id: str) -> str | None: ...

    async def delete_agent(self, agent_id: str, *, all_versions: bool = False) -> None:
        """Delete the agent (`all_versions`: every version of it, where the backend keeps versions apart; a family
        without versions refuses it)."""
        ...


@runtime_checkable
class AgentCallAPI(Protocol):
    """Call an agent: the call is a run, returned as soon as it started and followed with `RunsAPI.watch` (the
    same hybrid wait, progress and gates as `runs_start`). An adapter implementing this implements `RunsAPI`."""

    async def call_agent(self, request: AgentCallRequest) -> Run: ...


@runtime_checkable
class AgentForkAPI(Protocol):
    """Copy an agent someone else published into the account's workspace."""

    async def fork_agent(
        self, agent_id: str, *, new_name: str | None = None, workspace_id: str | None = None
    ) -> Agent: ...


@runtime_checkable
class RunActionsAPI(Protocol):
    """What the backend will do to a run right now, as far as the adapter knows without asking it: `next` (in tool
    results) offers only these, so it never sends the model to a tool that will refuse. Not a tool capability."""

    def offers(self, action: Literal["cancel", "fork"], run: Run) -> bool:
        """Whether `action` on `run` (as last read) is expected to work: False when the backend is known to refuse
        it (no cancel in this API version, a host that answered a fork with "not supported"), or cannot say."""
        ...


@runtime_checkable
class RunLocatorAPI(Protocol):
    """An adapter that must note something per run to reach it again (an events URL, a thread id) returns it as
    `Run.locator`; the bridge stores it with the run and hands it back here before acting on a run, so that a run
    started before a restart, or by another runbridge process on the same store, is found the same way. The adapter's
    own map is then only this process's copy. Not a tool capability."""

    def locate_run(self, run_id: str, locator: Mapping[str, str]) -> None:
        """Take back what `Run.locator` said about `run_id` (what the adapter already knows stands)."""
        ...


class StreamKeeper(Protocol):
    """Told by an adapter (`LocalStreamsAPI`) of the streams only this process reads. Never raises: what it does
    with them (the bridge stores the events, and holds the run's follow lease) cannot break the stream."""

    async def reading(self, run_id: str) -> None:
        """A stream of the run is read here from now on (the run was started or resumed)."""
        ...

    async def read(self, run_id: str, events: Sequence[RunEvent]) -> None:
        """Events read from it, in order, as they arrive."""
        ...

    async def done(self, run_id: str) -> None:
        """No stream of the run is read here any more (it waits at a gate, ended, or its stream broke)."""
        ...


@runtime_checkable
class LocalStreamsAPI(Protocol):
    """An adapter some of whose runs' events arrive only on the answer to the call that started or resumed the run,
    read by the process that made it: no other process can re-attach to them (Synapse v1). Not a tool capability."""

    def keep_streams(self, keeper: StreamKeeper) -> bool:
        """Tell `keeper` of every such stream from now on; False when this adapter reads no such streams (a run
        can be re-attached from anywhere, or is read in one synchronous answer)."""
        ...

    def reads_here(self, run_id: str) -> bool:
        """Whether this process holds the run's events itself (it started or resumed the run): False for a run
        whose stream only another process, or an earlier one, read."""
        ...


@runtime_checkable
class HostInfoAPI(Protocol):
    """Describe the backend host (protocol version, advertised features); for diagnostics, not a tool capability."""

    async def host_info(self) -> HostInfo: ...


_CAPABILITIES: dict[str, type] = {
    "targets": TargetsAPI,
    "runs": RunsAPI,
    "gates": GatesAPI,
    "fork": ForkAPI,
    "run_list": RunListAPI,
    "threads": ThreadsAPI,
    "thread_secrets": ThreadSecretsAPI,
    "approvals": ApprovalsAPI,
    "agents": AgentsAPI,
    "agent_calls": AgentCallAPI,
    "agent_fork": AgentForkAPI,
    "usage_views": UsageViewsAPI,
    "admin": AdminAPI,
}


def capabilities_of(backend: object) -> frozenset[str]:
    """The capability names an adapter (instance or class) implements, checked structurally: nothing is declared
    twice."""
    if isinstance(backend, type):
        return frozenset(name for name, proto in _CAPABILITIES.items() if issubclass(backend, proto))
    return frozenset(name for name, proto in _CAPABILITIES.items() if isinstance(backend, proto))
