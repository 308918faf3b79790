"""How many 2025-era HTTP sessions `runbridge serve --http` keeps, and which one makes room for a newcomer.

The MCP SDK ends a session once no request of it has been in flight for its idle timeout (runbridge sets it to a
few minutes: a call waiting on a person at a gate is a request in flight, and so is an open listening stream), and
it refuses a new session with 503 while `max_sessions` are open. Alone, that lets one client that opens sessions
and leaves them lock every other client out until they expire. So this layer, in front of the SDK, keeps the
sessions under the cap by ending the one that has waited longest with nothing in flight, then (when every session
is busy or listening) the oldest that only listens; it refuses a newcomer only when every session has a call in
progress. A session is ended the protocol's way, by a DELETE with its id handed to the SDK's transport, so the SDK
releases it as it would for its client, and that client's next request gets 404 (its cue to start a new session).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SessionLimit", "session_era"]

_SESSION = b"mcp-session-id"


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def session_era(scope: Scope) -> bool:
    """Whether the SDK routes the request to its 2025-era session transport: no protocol-version header, or a
    handshake version. Any other version goes to the sessionless 2026-era path."""
    version = _header(scope.get("headers", []), b"mcp-protocol-version")
    return version is None or version in HANDSHAKE_PROTOCOL_VERSIONS


@dataclass
class _Session:
    last_seen: float  # when its last request in flight ended (or it opened)
    calls: int = 0  # POSTs in flight: calls, perhaps waiting on a person at a gate
    streams: int = 0  # other requests in flight: listening (GET) streams


class SessionLimit:
    """Keeps at most `cap` sessions: the sessions it saw open, plus those opening now."""

    def __init__(self, app: ASGIApp, *, path: str, cap: int) -> None:
        if cap < 1:
            raise ValueError("the session cap must be at least 1")
        self.app = app
        self.path = path
        self.cap = cap
        self._sessions: dict[str, _Session] = {}
        self._opening = 0
        self._admitting = anyio.Lock()

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or not session_era(scope):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET":
            scope = _without_resumption(scope)
        session_id = _header(scope.get("headers", []), _SESSION)
        if session_id is not None:
            await self._within(session_id, scope, receive, send)
        elif scope["method"] == "POST":
            await self._open(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _open(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self._admitting:
            admitted = await self._make_room(scope)
            if admitted:
                self._opening += 1
        if not admitted:
            await _busy(send, self.cap)
            return
        opened: list[str] = []
        count_out = _Once(lambda: self._ended(opened[0], self._sessions.get(opened[0]), "POST", None))

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and not opened:
                session_id = _header(message.get("headers", []), _SESSION)
                if session_id is not None and message["status"] < 400:
                    # Counted from here as a session with its opening call in flight, no longer as one opening.
                    opened.append(session_id)
                    self._sessions[session_id] = _Session(anyio.current_time(), calls=1)
                    self._opening -= 1
            await send(message)
            if opened and _last_of_response(message):
                count_out()

        try:
            await self.app(scope, receive, watch)
        finally:
            if opened:
                count_out()
            else:
                self._opening -= 1

    async def _within(self, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        session = self._sessions.get(session_id)
        if session is None:  # not one of ours (ended, or never was): the SDK answers 404
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "POST":
            session.calls += 1
        else:
            session.streams += 1
        status: list[int] = []
        count_out = _Once(lambda: self._ended(session_id, session, method, status[0] if status else None))

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)
            if _last_of_response(message):
                count_out()

        try:
            await self.app(scope, receive, watch)
        finally:
            count_out()

    def _ended(self, session_id: str, session: _Session | None, method: str, status: int | None) -> None:
        """One request of the session ended: count it out, and forget the session if the SDK no longer has it."""
        if session is None:
            return
        if method == "POST":
            session.calls -= 1
        else:
            session.streams -= 1
        session.last_seen = anyio.current_time()
        gone = status == 404 or (method == "DELETE" and status is not None and status < 300)
        if gone and self._sessions.get(session_id) is session:
            del self._sessions[session_id]

    async def _make_room(self, scope: Scope) -> bool:
        """End sessions until a new one fits; False when every session has a call in progress."""
        while len(self._sessions) + self._opening >= self.cap:
            victim = self._victim()
            if victim is None:
                return False
            del self._sessions[victim]
            await self._end(victim, scope)
        return True

    def _victim(self) -> str | None:
        """The session idle longest; else the one listening (no call in flight) that was active longest ago."""
        idle = [(s.last_seen, sid) for sid, s in self._sessions.items() if not s.calls and not s.streams]
        if idle:
            return min(idle)[1]
        listening = [(s.last_seen, sid) for sid, s in self._sessions.items() if not s.calls]
        return min(listening)[1] if listening else None

    async def _end(self, session_id: str, scope: Scope) -> None:
        """A DELETE for the session, handed to the SDK as its client would send it (its answer goes nowhere)."""
        headers = [(b"host", b"localhost"), (_SESSION, session_id.encode("latin-1"))]
        delete: Scope = {**scope, "method": "DELETE", "headers": headers, "query_string": b""}
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message: Message) -> None:
            return None

        await self.app(delete, receive, discard)


class _Once:
    """A request counted out of its session: when the client has the whole answer, or when the app returns, whichever
    comes first, and only then."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


def _last_of_response(message: Message) -> bool:
    """Whether the client now has the whole answer: from here the request no longer keeps its session busy, though
    the app may take a moment more to return (a newcomer arriving in that moment must find the session idle)."""
    return message["type"] == "http.response.body" and not message.get("more_body", False)


def _without_resumption(scope: Scope) -> Scope:
    """runbridge keeps no event store, so there is nothing to resume: a GET asking to (Last-Event-ID) opens a new
    listening stream, as the protocol allows. The SDK would instead end that request without any answer."""
    headers = scope.get("headers", [])
    if _header(headers, b"last-event-id") is None:
        return scope
    return {**scope, "headers": [(k, v) for k, v in headers if k.lower() != b"last-event-id"]}


async def _busy(send: Send, cap: int) -> None:
    message = (
        f"runbridge already has {cap} sessions open, each with a call in progress; try again when one ends "
        "(or raise the cap: `runbridge serve --max-sessions`)."
    )
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": message}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"5"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
