"""The orchagent adapter (docs/backends/orchagent.md): threads, messages as runs, the replayed event stream, resume,
approvals.

Choices where the server's documentation leaves a gap (each described in docs/backends/orchagent.md):

* **Run status.** The server has no run status endpoint, so `get_run` reads the run's stream from the start for
  as long as it keeps delivering (it stops after `status_idle_seconds` of silence, default 0.3 s, or the end
  event) and derives the status: the end event decides; a gate not followed by any other event means `waiting`
  on it; else `running`.
* **Cursors** are positions in the stream (1-based, the n-th event sent); `watch(cursor=n)` skips the first n
  events of the replay. A stream that only replays what was already delivered up to the end event ends the
  watch with that end event again (marked `replayed`), as the run is over.
* **Tool approvals.** Approve → `POST /approvals/{run}/approve {server, tool, args_keys}` then
  `POST /runs/{run}/resume {}`. Deny → resume without approving: the server goes on without the tool (it decides
  what that means; the run is not left hanging). An auth gate declined stays open (nothing to resume with).
* **Cancel** does not exist on this server: `cancel_run` says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Any, Literal

import anyio
import httpx2

from ...core.config import Profile
from ...core.errors import (
    BackendError,
    ConflictError,
    CursorError,
    GateError,
    InputError,
    NotFoundError,
    RunbridgeError,
    UnsupportedError,
    sentences,
)
from ...core.models import Gate, GateAnswer, HostInfo, Run, RunEvent, RunStatus, StartRequest
from ...core.threads import HistoryItem, SecretRefs, Thread
from ...http import HttpClient, Secret, SSEMessage, follow, segment
from .auth import LOGIN_HINT, TokenSource
from .events import END_TYPES, Decoder, RawEvent, map_event
from .meta import host_info_from_meta, meta_refused
from .runview import RunView
from .secrets import profile_refs, resolve, scrub
from .spec import OrchagentOptions

__all__ = ["OrchagentBackend"]


class _Ended(RunbridgeError):
    """The replay reached the run's end event before anything new: the run is over; carries that event."""

    def __init__(self, raw: RawEvent, position: int) -> None:
        super().__init__("run already ended")
        self.raw = raw
        self.position = position


def _stream_profile(profile: Profile) -> Profile:
    # The stream is held open while a human signs in, with no keep-alives promised: no read timeout, unless the
    # profile sets one on purpose.
    if "stream_read_timeout" in profile.model_fields_set:
        return profile
    return profile.model_copy(update={"stream_read_timeout": None})


def _position(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise CursorError(cursor)
    return int(cursor)


class OrchagentBackend:
    """Implements `RunsAPI`, `GatesAPI`, `ThreadsAPI`, `ThreadSecretsAPI` and `ApprovalsAPI` for an orchagent server."""

    family = "orchagent"

    def __init__(self, profile: Profile, http: HttpClient | None = None, *, env: Mapping[str, str] | None = None):
        self.profile = profile
        self._env = os.environ if env is None else env
        self.http = http or HttpClient(_stream_profile(profile), secret=Secret(""))
        self._tokens = TokenSource(profile, self._env)
        self.http.not_found_scope = "for this account"  # threads and runs are each account's own
        if not self.http.secret:  # the token is read on every call: from the variable, else the sign-in file
            var = profile.api_key_env
            self.http.rejected_hint = (
                f"The server did not accept the token profile {profile.name!r} sends (from ${var}): a person must put "
                "a valid one there; calling again will not help"
                if var and self._env.get(var)
                else f"The server did not accept the orchagent sign-in of profile {profile.name!r} (expired, revoked "
                f"or for another server). {LOGIN_HINT}"
            )
        if not self.http.secret:
            self._tokens.get()  # not signed in: say so now (profiles_list, doctor), not at the first call
        self._profile_secrets = profile_refs(profile)
        options = profile.typed_options(OrchagentOptions)
        self._status_idle = options.status_idle_seconds
        self._status_budget = options.status_budget_seconds
        self._threads: dict[str, str] = {}  # run id -> thread id, for runs started here

    async def aclose(self) -> None:
        await self.http.aclose()

    def _auth(self) -> dict[str, str]:
        """The bearer header, from the token file as it is now (the client sends a fixed secret itself)."""
        if self.http.secret:
            return {}
        return {"Authorization": f"Bearer {self._tokens.get().value}"}

    async def _call(self, method: str, path: str, *, action: str, what: str = "", **kwargs: Any) -> Any:
        return await self.http.json(method, path, action=action, what=what, headers=self._auth(), **kwargs)

    async def host_info(self) -> HostInfo:
        """What the server says about itself at `/meta`, read without the sign-in, as the orchagent SDK reads it."""
        try:
            doc = await self.http.json("GET", "/meta", action="read the server's /meta", retry=False, anonymous=True)
        except BackendError as exc:
            return meta_refused(exc.status)
        return host_info_from_meta(doc)

    # -- threads -------------------------------------------------------------------------------------------------

    async def create_thread(self, spec: Mapping[str, Any]) -> Thread:
        doc = await self._call("POST", "/threads", action="create the thread", json=dict(spec))
        thread_id = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(thread_id, str) or not thread_id:
            raise BackendError("The server created the thread but returned no id", backend=self.family)
        extra = {k: v for k, v in doc.items() if k != "id"}
        return Thread(thread_id=thread_id, details=scrub(extra))

    async def set_thread_secrets(self, thread_id: str, secrets: SecretRefs) -> list[str]:
        if not secrets:
            raise InputError("Name at least one secret: secrets_from_env maps key paths to variable names.")
        values = resolve(secrets, self._env)
        await self._call(
            "POST",
            f"/threads/{segment(thread_id)}/secrets",
            action="set the thread's secrets",
            what="thread",
            json={"secrets": values},
            retry=True,  # storing the same values twice is harmless
        )
        return secrets.keys

    async def thread_history(self, thread_id: str, *, limit: int = 20) -> list[HistoryItem]:
        doc = await self._call(
            "GET",
            f"/threads/{segment(thread_id)}/history",
            action="read the thread",
            what="thread",
            params={"limit": limit},
        )
        raw_items = doc.get("items") if isinstance(doc, dict) else None
        items: list[HistoryItem] = []
        for item in raw_items if isinstance(raw_items, list) else []:
            if isinstance(item, dict):
                items.append(_history_item(scrub(item)))
        return items

    async def send_message(
        self,
        thread_id: str,
        message: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        secrets: SecretRefs | None = None,
    ) -> Run:
        refs = (secrets or SecretRefs()).over(self._profile_secrets)
        body: dict[str, Any] = {"user_prompt": message}
        if inputs:
            body["inputs"] = dict(inputs)
        if refs:
            body["secrets"] = resolve(refs, self._env)
        # Never retried: a second POST would start a second run (the server has no idempotency keys).
        doc = await self._call(
            "POST", f"/threads/{segment(thread_id)}/messages", action="send the message", what="thread", json=body
        )
        run_id = doc.get("run_id") if isinstance(doc, dict) else None
        if not isinstance(run_id, str) or not run_id:
            raise BackendError("The server accepted the message but returned no run_id", backend=self.family)
        self._threads[run_id] = thread_id
        return Run(
            run_id=run_id,
            target_id=thread_id,
            status=RunStatus.RUNNING,
            details={"thread_id": thread_id},
            locator={"thread_id": thread_id},
        )

    def locate_run(self, run_id: str, locator: Mapping[str, str]) -> None:
        """A run's locator (`RunLocatorAPI`): its thread, which the server's run endpoints never name."""
        if locator.get("thread_id"):
            self._threads.setdefault(run_id, locator["thread_id"])

    # -- runs ----------------------------------------------------------------------------------------------------

    async def start_run(self, request: StartRequest) -> Run:
        """`target_id` is a thread id; the message (or `inputs["message"]`) is the user prompt."""
        inputs = dict(request.inputs)
        message = request.message if request.message is not None else inputs.pop("message", None)
        if not isinstance(message, str) or not message:
            raise InputError("An orchagent run is a message on a thread: pass `message` (the user's prompt).")
        return await self.send_message(request.target_id, message, inputs=inputs)

    async def get_run(self, run_id: str) -> Run:
        view = RunView(run_id, self._threads.get(run_id))
        stream = self.watch(run_id)
        try:
            with anyio.move_on_after(self._status_budget):
                while True:
                    with anyio.move_on_after(self._status_idle):
                        event = await anext(stream, None)
                        if event is None:
                            break
                        view.add(event)
                        if event.terminal:
                            break
                        continue
                    break  # silence: the replay is over and nothing new is happening
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return view.run()

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        raise UnsupportedError(
            "An orchagent server has no way to cancel a run: it ends by itself, and one waiting at a gate waits until "
            "the gate is answered (gates_respond; denying a tool approval lets the run go on without the tool)."
        )

    def offers(self, action: Literal["cancel", "fork"], run: Run) -> bool:
        """The server has neither cancel nor fork, so `next` never suggests them."""
        del action, run
        return False

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        skip = _position(cursor)
        decoder = Decoder()
        seen = 0  # events decoded on the current connection
        delivered = skip

        def open_stream(_last_id: str | None) -> AbstractAsyncContextManager[httpx2.Response]:
            nonlocal seen
            decoder.reset()
            seen = 0
            return self.http.stream(
                "GET", f"/runs/{segment(run_id)}/events", action="follow the run's events", headers=self._auth()
            )

        def decode(message: SSEMessage) -> list[RawEvent]:
            nonlocal seen
            items = decoder.decode(message.data)
            for item in items:
                seen += 1
                if item.type in END_TYPES and seen <= delivered:
                    raise _Ended(item, seen)  # delivered before: the run is over, and this stream has no news
            return items

        stream = follow(open_stream, decode=decode, is_end=lambda e: e.type in END_TYPES, dedupe="position", skip=skip)
        try:
            async with aclosing(stream):
                async for raw in stream:
                    delivered += 1
                    yield map_event(run_id, raw, delivered)
        except _Ended as ended:
            event = map_event(run_id, ended.raw, ended.position)
            yield event.model_copy(update={"data": {**event.data, "replayed": True}})
        except NotFoundError as exc:
            exc.message = sentences(exc.message, f"No run {run_id!r} on {self.profile.base_url} for this account")
            raise

    # -- gates and approvals ---------------------------------------------------------------------------------------

    async def resolve_gate(self, gate: Gate, answer: GateAnswer) -> dict[str, Any]:
        kind = gate.resume.get("type")
        if kind == "auth":
            if answer.decision == "decline":
                return {"resolved": False}
            return await self._resume(gate)
        if kind != "tool_approval":
            raise GateError("runbridge cannot answer this gate of an orchagent run.")
        approve = answer.decision == "accept" and answer.values.get("decision") == "approve"
        tool = gate.resume.get("tool")
        if approve and isinstance(tool, str):
            server = str(gate.resume.get("server") or "mcp")
            await self.approve_tool(gate.run_id, tool, server=server, args_keys=gate.resume.get("args_keys") or [])
        return {**await self._resume(gate), "approved": approve}

    async def _resume(self, gate: Gate) -> dict[str, Any]:
        try:
            await self._call("POST", f"/runs/{segment(gate.run_id)}/resume", action="resume the run", json={})
        except (ConflictError, NotFoundError) as exc:
            raise GateError(
                f"The run no longer waits on this gate (answered elsewhere, or it moved on): {exc}", closed=True
            ) from None
        return {"resolved": True}

    async def approve_tool(
        self, run_id: str, tool: str, *, server: str = "mcp", args_keys: Sequence[str] = ()
    ) -> dict[str, Any]:
        body = {"server": server, "tool": tool, "args_keys": list(args_keys)}
        doc = await self._call(
            "POST",
            f"/approvals/{segment(run_id)}/approve",
            action="approve the tool",
            what="run",
            json=body,
            retry=True,
        )
        return scrub(doc) if isinstance(doc, dict) else {}

    async def clear_approvals(self, *, all: bool = False, user_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if all:
            body["all"] = True
        if user_id:
            body["user_id"] = user_id
        doc = await self._call("POST", "/approvals/clear", action="clear tool approvals", json=body, retry=True)
        return scrub(doc) if isinstance(doc, dict) else {}


def _history_item(item: dict[str, Any]) -> HistoryItem:
    meta_raw = item.get("meta_json")
    meta: Any = meta_raw
    if isinstance(meta_raw, str):
        try:
            meta = json.loads(meta_raw)
        except ValueError:
            meta = {"raw": meta_raw}
    meta_dict: dict[str, Any] | None = meta if isinstance(meta, dict) else None
    run_id = meta_dict.get("run_id") if meta_dict else None
    created = item.get("created_at")
    return HistoryItem(
        role=str(item.get("role") or "unknown"),
        content=item["content"] if isinstance(item.get("content"), str) else str(item.get("content") or ""),
        created_at=str(created) if created is not None else None,
        run_id=run_id if isinstance(run_id, str) else None,
        meta=meta_dict,
    )
