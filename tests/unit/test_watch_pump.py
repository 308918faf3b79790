"""The watch's pump, which reads a backend stream into the call's buffer: once the reader is gone (it returned, or
failed on a gate answered elsewhere), the pump stops quietly instead of failing the tool call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from runbridge.bridge.watch import _pump  # pyright: ignore[reportPrivateUsage]
from runbridge.core.errors import StreamError
from runbridge.core.models import EventKind, RunEvent

pytestmark = pytest.mark.anyio


def _event(seq: int) -> RunEvent:
    return RunEvent(kind=EventKind.LOG, raw_type="log", seq=str(seq), run_id="run_1", text="x")


async def _events(fail: bool) -> AsyncIterator[RunEvent]:
    yield _event(1)
    yield _event(2)
    if fail:
        raise StreamError("the stream broke")


@pytest.mark.parametrize("fail", [False, True])
async def test_the_pump_stops_quietly_when_its_reader_is_gone(fail: bool) -> None:
    send, receive = anyio.create_memory_object_stream[RunEvent | Exception](1)
    receive.close()
    with anyio.fail_after(2):
        await _pump(_events(fail), send)  # raises nothing


async def test_the_pump_hands_on_events_then_a_failure_while_the_reader_is_there() -> None:
    send, receive = anyio.create_memory_object_stream[RunEvent | Exception](10)
    with anyio.fail_after(2), receive:
        await _pump(_events(True), send)
        items = [item async for item in receive]
    assert [getattr(i, "seq", None) for i in items[:2]] == ["1", "2"]
    assert isinstance(items[2], StreamError)
