"""Following runs for subscribers (`bridge/subscriptions.py`) against the OpenWOP sandbox on loopback: one backend
watch per run whoever subscribes, shared notifiers counted, a subscriber that fails dropped, a run that cannot be
followed told once, and a bounded number of runs followed at once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import anyio
import httpx2
import pytest
from openwop_harness import SENTINEL_KEY

from runbridge.bridge.app import App
from runbridge.bridge.subscriptions import RunSubscriptions, run_of
from runbridge.core.config import Profile, Settings
from runbridge.core.errors import InputError
from runbridge.core.models import Run, RunEvent, StartRequest
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_FOLLOW_SANDBOX_KEY"


@pytest.fixture
async def app(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)
    profile = Profile(name="wop", family="openwop", base_url=sandbox.base_url, api_key_env=KEY_ENV)
    async with anyio.create_task_group() as tasks:
        opened = App.open(Settings(profiles={"wop": profile}, state_path=":memory:"), tasks)
        yield opened
        tasks.cancel_scope.cancel()
        await opened.aclose()


class Told:
    def __init__(self, fail: bool = False) -> None:
        self.uris: list[str] = []
        self.fail = fail
        self.arrived = anyio.Event()

    async def __call__(self, uri: str) -> None:
        self.uris.append(uri)
        self.arrived.set()
        if self.fail:
            raise ConnectionError("the session is gone")


async def _waiting_run(sandbox: SandboxServer) -> str:
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=sandbox.headers) as http:
        started = await http.post("/v1/runs", json={"workflowId": "approval-demo", "inputs": {}})
        started.raise_for_status()
        return f"runbridge://wop/runs/{started.json()['runId']}"


async def _until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.01)  # polls state that another task or thread changes


def test_only_run_resource_uris_name_a_run() -> None:
    assert run_of("runbridge://wop/runs/run_1") == ("wop", "run_1")
    assert run_of("runbridge://wop/runs/acme%2Fr-9") == ("wop", "acme/r-9")
    assert run_of("runbridge://wop/runs/run_1/events") is None
    assert run_of("runbridge://wop/gates") is None


async def test_one_watch_per_run_tells_every_subscriber_and_ends_with_the_last(
    app: App, sandbox: SandboxServer
) -> None:
    uri = await _waiting_run(sandbox)
    follows = app.subscriptions
    first, second = Told(), Told()
    follows.subscribe(uri, "a", first)
    follows.subscribe(uri, "b", second)
    await _until(lambda: bool(first.uris) and bool(second.uris))  # the events up to the gate
    assert int(sandbox.stats()["open_streams"]) == 1, "one backend watch for both"
    follows.unsubscribe(uri, "a")
    assert follows.following(uri)
    follows.unsubscribe(uri, "b")
    assert not follows.following(uri)
    await _until(lambda: int(sandbox.stats()["open_streams"]) == 0)


async def test_a_shared_notifier_holds_until_released_as_often_as_it_was_taken(
    app: App, sandbox: SandboxServer
) -> None:
    uri = await _waiting_run(sandbox)
    follows, bus = app.subscriptions, Told()
    follows.share(uri, "bus", bus)
    follows.share(uri, "bus", bus)
    follows.unshare(uri, "bus")
    assert follows.following(uri)
    follows.unshare(uri, "bus")
    assert not follows.following(uri)


async def test_a_subscriber_that_fails_is_dropped_and_the_watch_ends_without_subscribers(
    app: App, sandbox: SandboxServer
) -> None:
    uri = await _waiting_run(sandbox)
    gone = Told(fail=True)
    app.subscriptions.subscribe(uri, "gone", gone)
    await gone.arrived.wait()
    await _until(lambda: not app.subscriptions.following(uri))
    await _until(lambda: int(sandbox.stats()["open_streams"]) == 0)


async def _told_once_then_no_longer_followed(app: App, uri: str) -> None:
    told = Told()
    app.subscriptions.subscribe(uri, "a", told)
    await told.arrived.wait()
    await _until(lambda: not app.subscriptions.following(uri))
    assert told.uris == [uri]


async def test_a_run_that_cannot_be_followed_is_told_once_so_that_a_reread_shows_why(app: App) -> None:
    await _told_once_then_no_longer_followed(app, "runbridge://wop/runs/run_does_not_exist")


async def test_an_unknown_profile_and_one_run_too_many_are_refused_and_other_uris_accepted(
    app: App, sandbox: SandboxServer
) -> None:
    with pytest.raises(InputError, match="nowhere"):
        app.subscriptions.subscribe("runbridge://nowhere/runs/run_1", "a", Told())
    app.subscriptions.subscribe("runbridge://wop/gates", "a", Told())
    assert not app.subscriptions.following("runbridge://wop/gates")
    small = RunSubscriptions(app, limit=1)
    small.subscribe(await _waiting_run(sandbox), "a", Told())
    with pytest.raises(InputError, match="already follows 1 runs"):
        small.subscribe(await _waiting_run(sandbox), "a", Told())


class _BrokenWatch:
    """An adapter whose watch fails in a way no adapter should: the follower must end, not the server."""

    family = "openwop"

    async def aclose(self) -> None: ...

    async def start_run(self, request: StartRequest) -> Run:
        raise NotImplementedError

    async def get_run(self, run_id: str) -> Run:
        raise NotImplementedError

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        raise ValueError("a bug in an adapter")
        yield

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        raise NotImplementedError


async def test_a_watch_that_fails_unexpectedly_ends_the_following_and_not_the_server(app: App) -> None:
    app.adapters.put("wop", _BrokenWatch())
    await _told_once_then_no_longer_followed(app, "runbridge://wop/runs/run_1")
    assert app.tasks is not None
    assert not app.tasks.cancel_scope.cancel_called, "the server's task group goes on"


def _traceback(record: logging.LogRecord) -> str:
    """The traceback a log record carries (runbridge's redacting filter turns it into text once logging is set up)."""
    if record.exc_info:
        return logging.Formatter().formatException(record.exc_info)
    return record.exc_text or ""


async def test_a_bug_in_a_follower_is_logged_with_its_traceback_not_reported_as_a_broken_connection(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, backend = app.adapters.get("wop")

    async def buggy_watch(run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        raise KeyError("a bug in runbridge")
        yield

    monkeypatch.setattr(backend, "watch", buggy_watch)
    caplog.set_level("INFO", logger="runbridge.subscriptions")
    await _told_once_then_no_longer_followed(app, "runbridge://wop/runs/run_1")
    records = [r for r in caplog.records if r.name == "runbridge.subscriptions"]
    bugs = [r for r in records if r.levelname == "ERROR" and "KeyError: 'a bug in runbridge'" in _traceback(r)]
    assert bugs, f"the bug was not logged with its traceback: {[r.getMessage() for r in records]}"
    assert not [r for r in records if r.levelname == "INFO" and "stopped following" in r.getMessage()]
    assert app.tasks is not None
    assert not app.tasks.cancel_scope.cancel_called, "the server's task group goes on"


async def test_a_bug_in_telling_one_subscriber_is_logged_and_drops_only_that_one(
    app: App, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    uri = await _waiting_run(sandbox)

    async def buggy(uri: str) -> None:
        raise TypeError("a bug in runbridge")

    kept = Told()
    app.subscriptions.subscribe(uri, "buggy", buggy)
    app.subscriptions.subscribe(uri, "kept", kept)
    await kept.arrived.wait()
    bugs = [r for r in caplog.records if r.levelname == "ERROR" and "TypeError: a bug in runbridge" in _traceback(r)]
    assert bugs, "the bug was not logged with its traceback"
    assert app.subscriptions.following(uri), "the other subscriber is still told"
    app.subscriptions.unsubscribe(uri, "kept")
