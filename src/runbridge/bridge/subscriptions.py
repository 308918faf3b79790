"""Run resources a client subscribed to (`runbridge://{profile}/runs/{run_id}`), kept up to date as events arrive.

While anyone follows a run, one backend watch per run tells every subscriber that the run's snapshot changed: at the
first event after a quiet spell, then at most every `interval` while events keep coming, and once more at the run's
end (or when the run can no longer be followed, so that a re-read shows why). The watch starts after the run's saved
cursor and never moves it: what a subscription follows is not what the model has read, and `runs_watch` must still
deliver every event to the model.

Who is told, and how, is the caller's: the server tells a 2025 session with `notifications/resources/updated`, and
2026 listen streams through its subscription bus (see `server/subscriptions.py`).

With a run store shared by several runbridge servers, the bus is shared too, and a run followed only for listen
streams is followed by one server at a time: the holder of the run's follow lease in the store (`claim_follow`),
renewed while it follows. The others wait, trying the lease every so often (their streams hear the holder's
notifications over the bus). When the holder stops following (its listeners left) it gives the lease up, and
another takes it at once; when it dies, its lease lapses and another takes it then, re-attaching to the backend's
stream from the run's saved cursor. A server that also has a 2025 subscriber of the run (told on its own session,
not over the bus) follows the run itself, lease or not. A run whose stream only one process can read (Synapse v1)
is read from the store instead (`local_streams.py`), by every server that follows it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote

import anyio
from mcp.shared.exceptions import MCPError

from ..core.errors import InputError, RunbridgeError
from ..core.models import utc_now
from ..core.protocols import RunsAPI
from ..state import FollowLease
from .app import App
from .local_streams import watch_run
from .locating import known_run

__all__ = ["RunSubscriptions", "run_of"]

log = logging.getLogger("runbridge.subscriptions")

Notify = Callable[[str], Awaitable[None]]

_RUN_URI = re.compile(r"^runbridge://(?P<profile>[^/?#]+)/runs/(?P<run_id>[^/?#]+)$")
_TELL_SECONDS = 5.0  # a subscriber that takes longer to take a notification is dropped, not waited for

_GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError)
"""What a stream or connection that went away raises; with `RunbridgeError` (the backend's failures), the expected
ends of a watch. Anything else is a bug in runbridge: logged with its traceback, and it ends the watch."""


def run_of(uri: str) -> tuple[str, str] | None:
    """(profile, run id) of a run resource's URI; None for any other URI."""
    match = _RUN_URI.match(uri)
    if match is None:
        return None
    return unquote(match["profile"]), unquote(match["run_id"])


@dataclass
class _Followed:
    profile: str
    run_id: str
    notifiers: dict[object, Notify] = field(default_factory=dict[object, Notify])
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)


class RunSubscriptions:
    """Which run resources are followed, for whom, and the one backend watch per followed run."""

    def __init__(self, app: App, *, interval: float = 0.25, limit: int = 100) -> None:
        self.app = app
        self.interval = interval
        self.limit = limit
        self._runs: dict[str, _Followed] = {}
        self._shares: dict[tuple[str, object], int] = {}

    def following(self, uri: str) -> bool:
        return uri in self._runs

    def subscribe(self, uri: str, key: object, notify: Notify) -> bool:
        """Tell `notify` (known as `key`) whenever the run at `uri` changes; whether `uri` names a run. Any other URI
        is accepted and never updated; an unknown profile, or more runs than `limit` followed at once, is an
        `InputError`."""
        found = run_of(uri)
        if found is None:
            return False
        profile, run_id = found
        self.app.settings.profile(profile)  # an unknown profile is refused now, not silently never updated
        followed = self._runs.get(uri)
        if followed is None:
            if len(self._runs) >= self.limit:
                raise InputError(
                    f"runbridge already follows {self.limit} runs for subscribers, its limit: unsubscribe from runs "
                    "that are no longer of interest, or read this one with runs_get"
                )
            if self.app.tasks is None:
                raise InputError("runbridge cannot follow runs for subscribers here (no server task group)")
            followed = self._runs[uri] = _Followed(profile, run_id)
            self.app.tasks.start_soon(self._follow, uri, followed)
        followed.notifiers[key] = notify
        return True

    def share(self, uri: str, key: object, notify: Notify) -> None:
        """`subscribe`, counted: the subscription holds until `unshare` was called as often (one notifier that
        serves several subscribers, such as the server's subscription bus)."""
        if self.subscribe(uri, key, notify):
            self._shares[uri, key] = self._shares.get((uri, key), 0) + 1

    def unshare(self, uri: str, key: object) -> None:
        count = self._shares.pop((uri, key), 0) - 1
        if count > 0:
            self._shares[uri, key] = count
        else:
            self.unsubscribe(uri, key)

    def unsubscribe(self, uri: str, key: object) -> None:
        """Stop telling `key` about `uri`; the run's watch ends with its last subscriber."""
        followed = self._runs.get(uri)
        if followed is None:
            return
        followed.notifiers.pop(key, None)
        if not followed.notifiers:
            followed.scope.cancel()
            del self._runs[uri]

    def forget(self, key: object) -> None:
        """Stop telling `key` about every run (its session is gone)."""
        for uri in [uri for uri, followed in self._runs.items() if key in followed.notifiers]:
            self.unsubscribe(uri, key)

    async def _follow(self, uri: str, followed: _Followed) -> None:
        changed, pending = anyio.create_memory_object_stream[None](1)  # one pending "it changed" is enough

        async def watch() -> None:
            chosen, backend = self.app.adapters.require(followed.profile, "runs", RunsAPI)
            record = await known_run(self.app.registry, chosen.name, backend, followed.run_id)
            cursor = record.cursor if record else None
            events = watch_run(self.app, chosen.name, backend, followed.run_id, cursor)
            async with aclosing(events) as stream:
                async for event in stream:
                    with suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                        changed.send_nowait(None)
                    if event.terminal:
                        return

        async def read() -> None:
            async with changed:
                try:
                    if self._leased(followed.profile):
                        await self._lead(uri, followed, watch)
                    else:
                        await watch()
                except (RunbridgeError, *_GONE) as exc:  # the last word a re-read will show; the server goes on
                    why = (
                        str(exc) if isinstance(exc, RunbridgeError) else f"the stream went away ({type(exc).__name__})"
                    )
                    log.info("stopped following %s: %s", uri, why)
                    with suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                        changed.send_nowait(None)
                except Exception:  # a bug: this watch ends (with a last notification), the server goes on
                    log.exception("a bug stopped following %s for its subscribers", uri)
                    with suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                        changed.send_nowait(None)

        with followed.scope:
            async with anyio.create_task_group() as tasks, pending:
                tasks.start_soon(read)
                async for _ in pending:
                    await self._tell(uri, followed)
                    await anyio.sleep(self.interval)  # at most one notification per interval: a burst is one
        if self._runs.get(uri) is followed:
            del self._runs[uri]  # over: a new subscription starts a new watch (which sees the end at once)

    def _leased(self, profile: str) -> bool:
        """Whether the profile's runs are followed by one server at a time (a shared store, and streams any server
        can re-attach to)."""
        return self.app.settings.shared_state and not self.app.adapters.keeps_streams(profile)

    def _told_here(self, uri: str, followed: _Followed) -> bool:
        """Whether someone is told of the run on this server's own sessions (a 2025 subscriber), not over the bus."""
        return any((uri, key) not in self._shares for key in followed.notifiers)

    async def _lead(self, uri: str, followed: _Followed, watch: Callable[[], Awaitable[None]]) -> None:
        """`watch()` while this server holds the run's follow lease; wait for it while another server does."""
        store, profile, run_id = self.app.registry, followed.profile, followed.run_id
        lease_seconds = self.app.settings.follow_lease_seconds
        retry = min(max(lease_seconds / 5, 0.2), 3.0)
        while True:
            if self._told_here(uri, followed):
                await watch()  # its own subscribers are told by this server, whoever holds the lease
                return
            try:
                lease = await store.claim_follow(profile, run_id, lease_seconds=lease_seconds)
            except RunbridgeError as exc:  # the store away: tried again
                log.info("could not take the follow lease of %s: %s", uri, exc)
                lease = None
            if lease is None:
                await anyio.sleep(retry)  # another server follows it: its notifications reach the bus
                continue
            if lease.taken_from is not None:
                log.info("took over following %s from %s, which stopped renewing its lease", uri, lease.taken_from)
            lost = anyio.Event()
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._renew, uri, followed, lease.until, lost, tasks.cancel_scope)
                try:
                    await watch()
                finally:
                    tasks.cancel_scope.cancel()
                    if not lost.is_set():
                        with anyio.CancelScope(shield=True), suppress(RunbridgeError):
                            await store.release_follow(profile, run_id)
            if not lost.is_set():
                return
            log.info("another server took over following %s", uri)

    async def _renew(
        self, uri: str, followed: _Followed, until: datetime, lost: anyio.Event, watching: anyio.CancelScope
    ) -> None:
        """Renew the run's follow lease every third of its length; once another server holds it (this one could
        not renew it in time), set `lost` and stop the watch."""
        store, lease_seconds = self.app.registry, self.app.settings.follow_lease_seconds
        while True:
            await anyio.sleep(lease_seconds / 3)
            try:
                again = await store.claim_follow(followed.profile, followed.run_id, lease_seconds=lease_seconds)
            except RunbridgeError as exc:  # the store away: the lease holds until it lapses
                log.info("could not renew the follow lease of %s: %s", uri, exc)
                again = None if utc_now() >= until else FollowLease(until)
            if again is None:
                lost.set()
                watching.cancel()
                return
            until = again.until

    async def _tell(self, uri: str, followed: _Followed) -> None:
        for key, notify in list(followed.notifiers.items()):
            try:
                with anyio.fail_after(_TELL_SECONDS):
                    await notify(uri)
            except (TimeoutError, MCPError, RunbridgeError, *_GONE) as exc:  # a gone or stuck subscriber
                log.info("dropped a subscriber of %s: %s", uri, exc.__class__.__name__)
                self.unsubscribe(uri, key)
            except Exception:  # a bug in telling this one: it is dropped; the others are still told
                log.exception("a bug dropped a subscriber of %s", uri)
                self.unsubscribe(uri, key)
