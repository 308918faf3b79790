"""The run part of the platform adapter: calls made here (read from their log) and the workspace's runs (`GET
/workspaces/{ws}/runs`, `GET /workspaces/{ws}/runs/{id}/logs`) behind the same run tools.

A run this process did not call (started elsewhere, by a schedule, or before a restart) is read from its logs:
`watch` polls them until the run ends and gives its start, the managed loop's progress the logs kept, and its end.
The platform cannot cancel a call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import anyio

from ...core.config import Profile
from ...core.errors import NotFoundError, UnsupportedError, sentences
from ...core.models import EventKind, Page, Run, RunEvent, RunStatus
from ...http import segment
from .._runlog import follow_log
from .calls import Call
from .client import PlatformHttp
from .events import CallFeed
from .locating import LOCAL_PREFIX, CallNotFound, as_call, match_call
from .spec import PlatformOptions
from .wire import run_from_logs, run_from_summary

__all__ = ["WorkspaceRuns"]

_POLL_SECONDS = 1.0
_MAX_LIST = 200  # the platform's largest page


class WorkspaceRuns:
    """`RunsAPI` (but `start_run`, which is a call), `RunListAPI` and `RunActionsAPI`."""

    wire: PlatformHttp
    profile: Profile
    options: PlatformOptions
    calls: dict[str, Call]
    located: dict[str, dict[str, str]]  # calls made elsewhere (another process, before a restart): their locators

    async def workspace_run(self, run_id: str) -> Run:
        ws = await self.wire.workspace()
        try:
            answer = await self.wire.call(
                "GET", f"/workspaces/{segment(ws)}/runs/{segment(run_id)}/logs", action="read the run's logs"
            )
        except NotFoundError as exc:
            exc.message = sentences(exc.message, f"No run {run_id!r} in workspace {ws} of this account")
            raise
        run = run_from_logs(answer.data, run_id)
        if isinstance(answer.data, dict) and isinstance(answer.data.get("execution_log"), list):
            run.details["progress"] = [e for e in answer.data["execution_log"] if isinstance(e, dict)]
        return run

    async def get_run(self, run_id: str) -> Run:
        call = self.calls.get(run_id)
        if call is None or call.log is None:
            run = await self._read_run(run_id)
            run.details.pop("progress", None)
            return run
        log = call.log
        details: dict[str, Any] = {"agent": str(call.ref)}
        if call.workspace_run and call.workspace_run != run_id:
            details["workspace_run_id"] = call.workspace_run
        last = log.events[-1] if log.events else None
        if last is not None and last.terminal and last.note:
            details["note"] = last.note
        return Run(
            run_id=run_id,
            target_id=str(call.ref),
            status=log.status,
            outputs=log.outputs,
            error=log.error,
            usage=log.usage,
            details=details,
            locator=call.locator(),
        )

    async def _read_run(self, run_id: str) -> Run:
        """A workspace run from its logs; a call runbridge numbered itself, from its workspace run (`locating.py`)."""
        if not run_id.startswith(LOCAL_PREFIX):
            return await self.workspace_run(run_id)
        locator = self.located.get(run_id)
        if locator is None:
            raise CallNotFound(
                f"Run {run_id!r} is an agent call runbridge numbered itself, and runbridge has no record of it on "
                f"profile {self.profile.name!r}: runs_list shows the runs it knows.",
                status=404,
            )
        workspace_run = locator.get("workspace_run") or await match_call(self.wire, run_id, locator)
        locator["workspace_run"] = workspace_run
        agent = locator.get("agent") or ""
        return as_call(await self.workspace_run(workspace_run), run_id, workspace_run, agent)

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        call = self.calls.get(run_id)
        if call is not None and call.log is not None:
            async for event in follow_log(call.log, cursor):
                yield event
            return
        async for event in self._watch_logs(run_id, cursor):  # the call's events, under the id it was asked by
            yield event

    async def _watch_logs(self, run_id: str, cursor: str | None) -> AsyncIterator[RunEvent]:
        """A workspace run from its logs: its events so far (numbered from 1), then polled until it ends."""
        delivered = Page.start_of(cursor)
        while True:
            run = await self._read_run(run_id)
            events = _events_of(run)
            for event in events[delivered:]:
                delivered += 1
                yield event
                if event.terminal:
                    return
            if run.status.terminal:
                return
            await anyio.sleep(_POLL_SECONDS)

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        raise UnsupportedError(
            "orchagent.io has no way to cancel an agent call: it ends by itself (the platform's own timeout ends a "
            "call that runs too long)."
        )

    def offers(self, action: Literal["cancel", "fork"], run: Run) -> bool:
        del action, run
        return False

    def locate_run(self, run_id: str, locator: Mapping[str, str]) -> None:
        """A run is found by its id in the workspace; a call runbridge numbered itself (`call_…`) and did not make in
        this process, by its locator: its workspace run, or the agent, time and input to find it by."""
        if run_id.startswith(LOCAL_PREFIX) and run_id not in self.calls:
            known = self.located.setdefault(run_id, {})
            for key, value in locator.items():
                known.setdefault(key, value)

    def listed_id(self, locator: Mapping[str, str]) -> str | None:
        """A call runbridge numbered is listed as its workspace run, once the platform named it."""
        return locator.get("workspace_run") or None

    async def list_runs(self, *, cursor: str | None = None, limit: int = 50, target_id: str | None = None) -> Page[Run]:
        start = Page.start_of(cursor)
        ws = await self.wire.workspace()
        params: dict[str, Any] = {"limit": min(_MAX_LIST, start + limit)}
        if target_id:
            params["agent_name"] = target_id.split("/")[-1].split("@")[0]
        answer = await self.wire.call("GET", f"/workspaces/{segment(ws)}/runs", action="list the runs", params=params)
        doc = answer.data if isinstance(answer.data, dict) else {}
        items = [r for r in doc.get("runs") or [] if isinstance(r, dict)]
        total = doc.get("total") if isinstance(doc.get("total"), int) else None
        runs = [run_from_summary(item) for item in items[start : start + limit]]
        more = start + limit < (total if total is not None else len(items)) and start + limit < _MAX_LIST
        return Page.of(runs, next_cursor=str(start + limit) if more else None, total=total)


def _events_of(run: Run) -> list[RunEvent]:
    """A workspace run's events as its logs tell them: the start, the loop's progress, the end (once ended)."""
    feed = CallFeed(run.run_id, run.target_id or "the agent")
    events = feed.feed({"type": "started"}, "")
    for item in run.details.get("progress") or []:
        events += feed.feed({"type": "progress", "data": item}, "")
    if run.status is RunStatus.COMPLETED:
        end = feed.feed({"type": "result", "data": {"data": run.outputs, "metadata": {}}}, "")
        events += [e.model_copy(update={"usage": run.usage, "from_status": True}) for e in end]
    elif run.status.terminal:
        end = feed.feed({"type": "error", "message": run.error or f"the run ended {run.raw_status}"}, "")
        events += [e.model_copy(update={"from_status": True}) for e in end]
    for index, event in enumerate(events, start=1):
        event.seq = str(index)
    return [e for e in events if e.kind is not EventKind.LOG or e.text]
