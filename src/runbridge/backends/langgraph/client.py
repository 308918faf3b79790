"""The Agent Server's routes runbridge calls, over the shared HTTP client (docs/backends/langgraph.md): threads,
runs of a thread, a thread's state and history, and one connection to a run's resumable stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from ...core.errors import BackendError
from ...http import HttpClient, segment
from .wire import as_dict, as_list

__all__ = ["Wire"]


class Wire:
    """The routes of one server. Every error is from the error tree, with what was not found said."""

    family = "langgraph"

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    async def call(self, method: str, path: str, *, action: str, what: str = "", **kwargs: Any) -> Any:
        return await self.http.json(method, path, action=action, what=what, **kwargs)

    async def obj(self, method: str, path: str, *, action: str, **kwargs: Any) -> dict[str, Any]:
        doc = await self.call(method, path, action=action, **kwargs)
        if not isinstance(doc, dict):
            raise BackendError(f"Could not {action}: the server's answer is not an object", backend=self.family)
        return as_dict(doc)

    # -- threads ---------------------------------------------------------------------------------------------------

    async def create_thread(self, *, thread_id: str | None = None, metadata: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"metadata": metadata or {}}
        if thread_id:  # created once whatever the retries: a second create of the same id does nothing
            body.update(thread_id=thread_id, if_exists="do_nothing")
        doc = await self.obj("POST", "/threads", action="create a thread", json=body, retry=bool(thread_id))
        created = doc.get("thread_id")
        if not isinstance(created, str) or not created:
            raise BackendError("The server created the thread but returned no thread_id", backend=self.family)
        return created

    async def thread(self, thread_id: str) -> dict[str, Any]:
        return await self.obj("GET", f"/threads/{segment(thread_id)}", action="read the thread", what="thread")

    async def state(self, thread_id: str) -> dict[str, Any]:
        return await self.obj(
            "GET", f"/threads/{segment(thread_id)}/state", action="read the thread's state", what="thread"
        )

    async def history(self, thread_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        doc = await self.call(
            "POST",
            f"/threads/{segment(thread_id)}/history",
            action="read the thread's history",
            what="thread",
            json={"limit": limit},
            retry=True,  # a read
        )
        return [as_dict(s) for s in as_list(doc)]

    async def mark_thread(self, thread_id: str, metadata: dict[str, Any]) -> None:
        await self.call(
            "PATCH",
            f"/threads/{segment(thread_id)}",
            action="update the thread",
            what="thread",
            json={"metadata": metadata},
            retry=True,  # setting the same keys twice is harmless
        )

    async def copy_thread(self, thread_id: str) -> str:
        doc = await self.obj("POST", f"/threads/{segment(thread_id)}/copy", action="copy the thread", what="thread")
        copied = doc.get("thread_id")
        if not isinstance(copied, str) or not copied:
            raise BackendError("The server copied the thread but returned no thread_id", backend=self.family)
        return copied

    # -- runs ------------------------------------------------------------------------------------------------------

    async def create_run(self, thread_id: str, body: dict[str, Any]) -> dict[str, Any]:
        # Never retried: a second POST would start a second run.
        doc = await self.obj(
            "POST", f"/threads/{segment(thread_id)}/runs", action="start the run", what="thread", json=body
        )
        if not isinstance(doc.get("run_id"), str):
            raise BackendError("The server accepted the run but returned no run_id", backend=self.family)
        return doc

    async def runs(self, thread_id: str) -> list[dict[str, Any]]:
        doc = await self.call(
            "GET",
            f"/threads/{segment(thread_id)}/runs",
            action="list the thread's runs",
            what="thread",
            params={"limit": 1000},
        )
        return [as_dict(r) for r in as_list(doc)]

    async def run(self, thread_id: str, run_id: str) -> dict[str, Any]:
        return await self.obj(
            "GET", f"/threads/{segment(thread_id)}/runs/{segment(run_id)}", action="read the run", what="run"
        )

    async def cancel(self, thread_id: str, run_id: str) -> None:
        await self.call(
            "POST",
            f"/threads/{segment(thread_id)}/runs/{segment(run_id)}/cancel",
            action="cancel the run",
            what="run",
            params={"action": "interrupt", "wait": "true"},
            retry=True,  # cancelling twice is harmless
        )

    @asynccontextmanager
    async def stream(self, thread_id: str, run_id: str, last_event_id: str) -> AsyncGenerator[httpx2.Response]:
        """One connection to the run's stream, from after `last_event_id` (`0`: from its first event)."""
        headers = {"Last-Event-ID": last_event_id, "Accept": "text/event-stream"}
        async with self.http.stream(
            "GET",
            f"/threads/{segment(thread_id)}/runs/{segment(run_id)}/stream",
            action="follow the run's events",
            headers=headers,
        ) as response:
            yield response
