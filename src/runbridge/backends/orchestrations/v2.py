"""Synapse v2, the scale-mode queue API (docs/backends/orchestrations.md): queued runs, their status, re-attachable
event streams, resume and cancel. Used where the profile says the server has it (`options.api_versions`).

A server that does not run in scale mode answers every v2 route with 503 "Scale mode is not enabled": that is its
configuration, not a passing outage, so it is never retried (`permanent`), and once seen, v2 calls fail at once with
what to change, without asking the server again.

The v2 stream has `id:` lines (Redis stream ids), so a watch reconnects with `Last-Event-ID` and sees every event
once, across drops and across runbridge restarts. It stays open across a gate (`paused`), ends with `done`; a
reconnect past the end gets `stream_complete`, and the run's status then says how it ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Any

import httpx2

from ...core.errors import (
    BackendError,
    ConflictError,
    CursorError,
    GateError,
    NotFoundError,
    UnavailableError,
    UnsupportedError,
)
from ...core.models import Gate, Run, RunEvent, RunStatus, StepRef, Usage
from ...http import HttpClient, SSEMessage, follow, segment
from .._wire import parse_time
from .events import EventMapper, terminal_event
from .wire import api_path, as_dict, frame_number, parse_data, run_status, target_of_run_id

__all__ = ["V2Runs", "scale_mode_off"]

_SSE = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
_END = object()  # `done` or `stream_complete`: the server has nothing more for this run


_SCALE_MODE_OFF = "scale mode is not enabled"


def scale_mode_off(error: BackendError) -> bool:
    """The server's 503 for a v2 route when it does not run in scale mode (permanent: its configuration)."""
    return error.status == 503 and _SCALE_MODE_OFF in error.message.lower()


class V2Runs:
    """The v2 run calls of one profile."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self.off: str | None = None  # why v2 cannot be used on this server, once it said so

    def _path(self, path: str) -> str:
        return api_path("v2", f"/orchestrations{path}")

    @contextlib.contextmanager
    def _scale_mode(self) -> Generator[None]:
        """Fail at once where the server said it has no v2 API; turn its 503 saying so into what to change."""
        if self.off is not None:
            raise UnsupportedError(self.off)
        try:
            yield
        except UnavailableError as exc:
            if not scale_mode_off(exc):
                raise
            self.off = (
                'This Synapse server has no v2 API (it answered 503 "Scale mode is not enabled"): remove "v2" from '
                "the profile's options.api_versions to use v1, or give the server a redis_url (its Settings > Scale)."
            )
            raise UnsupportedError(self.off) from None

    async def start(self, target_id: str, body: dict[str, Any]) -> Run:
        with self._scale_mode():
            doc = as_dict(
                await self.http.json(
                    "POST",
                    self._path(f"/{segment(target_id)}/run"),
                    action=f"queue orchestration {target_id!r}",
                    json=body,
                )
            )
        run_id = doc.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise BackendError("The server queued the run but returned no run_id", backend="orchestrations")
        status = run_status(doc.get("status"))
        return Run(run_id=run_id, target_id=target_id, status=status, raw_status=str(doc.get("status")))

    async def get(self, run_id: str, *, gate: Gate | None = None) -> Run:
        """The run from its v2 status; `gate`, the one this adapter saw it open, is added while it waits."""
        with self._scale_mode():
            path = self._path(f"/runs/{segment(run_id)}/status")
            doc = as_dict(await self.http.json("GET", path, action="get the run"))
        status = run_status(doc.get("status"))
        waiting = bool(doc.get("waiting_for_human")) and not status.terminal
        if waiting:
            status = RunStatus.WAITING
        step = doc.get("current_step_id")
        cost, tokens = doc.get("total_cost_usd"), doc.get("total_tokens_used")
        usage = Usage(
            total_tokens=tokens if isinstance(tokens, int) else 0,
            cost_usd=float(cost) if isinstance(cost, int | float) else None,
        )
        return Run(
            run_id=str(doc.get("run_id") or run_id),
            target_id=str(doc.get("orchestration_id") or target_of_run_id(run_id) or "") or None,
            status=status,
            raw_status=str(doc.get("status")),
            created_at=parse_time(doc.get("started_at")),
            updated_at=parse_time(doc.get("ended_at")),
            usage=usage,
            current_step=StepRef(id=str(step)) if step else None,  # the status names no step: no name, not the id
            open_gate=gate if waiting and gate is not None else None,
            details={"worker_id": doc.get("worker_id"), "source": "the v2 run status"},
        )

    async def cancel(self, run_id: str) -> Run:
        # A 409: the run is over already, and the status below says how it ended.
        with self._scale_mode(), contextlib.suppress(ConflictError):
            await self.http.json(
                "POST", self._path(f"/runs/{segment(run_id)}/cancel"), action="cancel the run", json={}
            )
        return await self.get(run_id)

    async def resume(self, run_id: str, body: dict[str, Any]) -> None:
        try:
            with self._scale_mode():
                await self.http.json(
                    "POST", self._path(f"/runs/{segment(run_id)}/resume"), action="resume the run", json=body
                )
        except ConflictError:
            raise GateError(
                "The run is no longer waiting for this answer: it ended or was cancelled.", closed=True
            ) from None
        except NotFoundError:
            raise GateError("The run no longer exists on the server.", closed=True) from None

    async def watch(self, run_id: str, mapper: EventMapper, *, cursor: str | None) -> AsyncIterator[RunEvent]:
        """Every event after `cursor` (a frame id), once, until the run's end."""
        if cursor and frame_number(cursor) is None:
            raise CursorError(cursor)  # sent on as Last-Event-ID, the server would replay from the start
        path = self._path(f"/runs/{segment(run_id)}/stream")

        def open_stream(last_id: str | None) -> AbstractAsyncContextManager[httpx2.Response]:
            headers = {**_SSE, "Last-Event-ID": last_id} if last_id else dict(_SSE)
            return self.http.stream("GET", path, action="follow the run's events", headers=headers)

        def decode(message: SSEMessage) -> list[object]:
            raw = parse_data(message.data)
            if raw is None:
                return []
            items: list[object] = list(mapper.feed(raw, message.id))
            if raw["type"] in ("done", "stream_complete"):
                items.append(_END)
            return items

        def seq_of(item: object) -> int | None:
            return frame_number(item.seq) if isinstance(item, RunEvent) else None

        def is_end(item: object) -> bool:
            return item is _END or (isinstance(item, RunEvent) and item.terminal)

        stream = follow(
            open_stream,
            decode=decode,
            is_end=is_end,
            seq_of=seq_of,
            last_event_id=cursor,
            last_seq=frame_number(cursor),
        )
        with self._scale_mode():
            async with aclosing(stream):
                async for item in stream:
                    if isinstance(item, RunEvent):
                        yield item
                        if item.terminal:
                            return
        # The server has nothing more, yet no ending was seen (it was before the cursor): the status tells it.
        run = await self.get(run_id)
        if run.status.terminal:
            ending = {"status": run.raw_status, "response": None}
            event = terminal_event(run_id, ending, seq=cursor or "", raw_type="status", usage=run.usage)
            yield event.model_copy(update={"from_status": True})
