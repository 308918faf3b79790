"""The one SSE reader: `iter_messages` (spec line rules over any chunking) and `follow` (reconnect, resume, dedupe)."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbridge.core.errors import StreamError
from runbridge.http.retry import RetryPolicy
from runbridge.http.sse import SSEMessage, follow, iter_messages

pytestmark = pytest.mark.anyio

INSTANT = RetryPolicy(attempts=3, base_delay=0, max_delay=0)


class ChunkStream(httpx2.AsyncByteStream):
    """A response body that yields the given chunks, then optionally breaks like a dropped connection."""

    def __init__(self, chunks: Iterable[bytes], error: Exception | None = None) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        self.closed = True


def sse_response(
    chunks: Iterable[bytes], *, content_type: str = "text/event-stream", error: Exception | None = None
) -> httpx2.Response:
    return httpx2.Response(
        200,
        headers={"content-type": content_type},
        stream=ChunkStream(chunks, error),
        request=httpx2.Request("GET", "http://backend.test/events"),
    )


async def read_all(chunks: Iterable[bytes], **kwargs: Any) -> list[SSEMessage]:
    with anyio.fail_after(5):
        return [m async for m in iter_messages(sse_response(chunks), **kwargs)]


def split_at(wire: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(points)]


# A stream that exercises every rule at once: ids, names, multi-line data, comments, retry, non-ASCII.
WIRE = (
    ": welcome\n"
    "retry: 2500\n"
    "\n"
    "id: 1\n"
    "event: run.started\n"
    'data: {"seq": 1}\n'
    "\n"
    ":keepalive\n"
    "data: first line\n"
    "data:second line\n"
    "data:  two leading spaces keep one\n"
    "\n"
    "id: 2\n"
    "event: step\n"
    "data: caf\u00e9 \u2014 \U0001f680 \u6f22\u5b57\n"
    "\n"
).encode()

EXPECTED = [
    SSEMessage(event="run.started", data='{"seq": 1}', id="1", retry=2500),
    SSEMessage(event="message", data="first line\nsecond line\n two leading spaces keep one", id="1", retry=2500),
    SSEMessage(event="step", data="caf\u00e9 \u2014 \U0001f680 \u6f22\u5b57", id="2", retry=2500),
]


# -- iter_messages -------------------------------------------------------------------------------------------------


async def test_a_whole_stream_in_one_chunk_yields_every_event() -> None:
    assert await read_all([WIRE]) == EXPECTED


async def test_a_frame_split_at_every_byte_boundary_parses_the_same() -> None:
    for cut in range(1, len(WIRE)):
        assert await read_all(split_at(WIRE, [cut])) == EXPECTED, f"split at byte {cut}"


async def test_a_stream_delivered_one_byte_at_a_time_parses_the_same() -> None:
    assert await read_all([WIRE[i : i + 1] for i in range(len(WIRE))]) == EXPECTED


async def test_random_multi_splits_parse_the_same() -> None:
    rng = random.Random(20240611)
    for _ in range(50):
        cuts = rng.sample(range(1, len(WIRE)), rng.randint(2, 25))
        assert await read_all(split_at(WIRE, cuts)) == EXPECTED, f"cuts {sorted(cuts)}"


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
async def test_every_line_ending_style_parses_the_same(ending: str) -> None:
    wire = WIRE.decode().replace("\n", ending).encode()
    assert await read_all([wire]) == EXPECTED
    for cut in range(1, len(wire)):
        assert await read_all(split_at(wire, [cut])) == EXPECTED, f"split at byte {cut}"


async def test_mixed_line_endings_in_one_stream_parse_the_same() -> None:
    wire = b"id: 7\r\nevent: a\rdata: x\n\r\ndata: y\r\rdata: z\r\n\n"
    expected = [
        SSEMessage(event="a", data="x", id="7"),
        SSEMessage(event="message", data="y", id="7"),
        SSEMessage(event="message", data="z", id="7"),
    ]
    assert await read_all([wire]) == expected
    for cut in range(1, len(wire)):
        assert await read_all(split_at(wire, [cut])) == expected, f"split at byte {cut}"


async def test_multi_line_data_joins_with_newlines() -> None:
    messages = await read_all([b'data: {\ndata:   "a": 1\ndata: }\n\n'])
    assert [m.data for m in messages] == ['{\n  "a": 1\n}']


async def test_comments_and_keep_alives_produce_nothing() -> None:
    assert await read_all([b": ping\n\n:keepalive\n\n:\n\n: ping\n\n"]) == []


async def test_comments_between_data_lines_do_not_break_the_event() -> None:
    messages = await read_all([b"data: a\n: ping\ndata: b\n\n"])
    assert [m.data for m in messages] == ["a\nb"]


async def test_the_default_event_name_is_message() -> None:
    messages = await read_all([b"data: x\n\n"])
    assert messages == [SSEMessage(event="message", data="x", id="")]


async def test_the_id_persists_as_the_last_event_id_until_a_new_one_arrives() -> None:
    wire = b"id: 41\ndata: a\n\ndata: b\n\nid: 42\ndata: c\n\ndata: d\n\n"
    assert [(m.data, m.id) for m in await read_all([wire])] == [("a", "41"), ("b", "41"), ("c", "42"), ("d", "42")]


async def test_an_id_containing_nul_is_ignored() -> None:
    wire = b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"
    assert [m.id for m in await read_all([wire])] == ["1", "1"]


async def test_a_retry_field_is_parsed_as_milliseconds() -> None:
    messages = await read_all([b"retry: 1500\ndata: a\n\n"])
    assert messages == [SSEMessage(event="message", data="a", id="", retry=1500)]


async def test_a_retry_sent_in_a_frame_of_its_own_still_reaches_the_events_that_follow() -> None:
    # Servers commonly open with a bare `retry: N` frame; dropping it would lose the reconnection time.
    messages = await read_all([b"retry: 3000\n\ndata: a\n\nretry: 500\n\ndata: b\n\n"])
    assert [(m.data, m.retry) for m in messages] == [("a", 3000), ("b", 500)]


async def test_a_retry_that_is_not_a_number_is_ignored() -> None:
    messages = await read_all([b"retry: soon\ndata: a\n\n"])
    assert [(m.data, m.retry) for m in messages] == [("a", None)]


async def test_an_event_with_only_an_id_or_a_name_and_no_data_is_not_dispatched() -> None:
    wire = b"id: 9\n\nevent: lonely\n\nid: 10\nevent: also-lonely\n\ndata: real\n\n"
    messages = await read_all([wire])
    assert messages == [SSEMessage(event="message", data="real", id="10")]


async def test_an_unfinished_event_at_the_end_of_the_stream_is_not_dispatched() -> None:
    for ending in ("\n", "\r\n", "\r"):
        wire = f"data: done{ending}{ending}data: cut off{ending}".encode()
        assert [m.data for m in await read_all([wire])] == ["done"], repr(ending)
        assert [m.data for m in await read_all(split_at(wire, [len(wire) - 1]))] == ["done"], repr(ending)


async def test_a_multi_byte_character_split_across_chunks_survives() -> None:
    wire = "data: \U0001f680\u00e9\u6f22\n\n".encode()
    start = wire.index(b"\xf0")
    for cut in range(start + 1, start + 4):  # inside the four bytes of the rocket
        assert [m.data for m in await read_all(split_at(wire, [cut, cut + 2]))] == ["\U0001f680\u00e9\u6f22"]


async def test_an_event_over_max_event_bytes_raises_a_stream_error_that_names_the_limit() -> None:
    wire = b"data: small\n\ndata: " + b"x" * 2000 + b"\n\n"
    with pytest.raises(StreamError, match="1024 byte limit") as caught:
        await read_all([wire], max_event_bytes=1024)
    assert "event stream" in str(caught.value)


async def test_an_oversized_event_is_refused_before_its_line_ends() -> None:
    # A hostile server that never sends a newline must not make the reader buffer without bound.
    chunks = [b"data: "] + [b"y" * 512] * 8
    with pytest.raises(StreamError, match="byte limit"):
        await read_all(chunks, max_event_bytes=1024)


async def test_an_oversized_event_spread_over_many_lines_is_refused() -> None:
    wire = b"".join(b"data: " + b"z" * 100 + b"\n" for _ in range(20)) + b"\n"
    with pytest.raises(StreamError, match="byte limit"):
        await read_all([wire], max_event_bytes=1024)


async def test_events_each_under_the_limit_are_fine_however_many_there_are() -> None:
    wire = b"".join(b"data: " + b"z" * 900 + b"\n\n" for _ in range(20))
    assert len(await read_all([wire], max_event_bytes=1024)) == 20


@pytest.mark.parametrize("content_type", ["application/json", "text/html; charset=utf-8", ""])
async def test_a_response_that_is_not_an_event_stream_raises_a_stream_error(content_type: str) -> None:
    response = sse_response([b'{"error": "nope"}'], content_type=content_type)
    with anyio.fail_after(5), pytest.raises(StreamError, match="text/event-stream"):
        _ = [m async for m in iter_messages(response)]


async def test_an_event_stream_content_type_with_parameters_is_accepted() -> None:
    response = sse_response([b"data: a\n\n"], content_type="Text/Event-Stream; charset=utf-8")
    with anyio.fail_after(5):
        assert [m.data async for m in iter_messages(response)] == ["a"]


# -- property: any events, any line-ending style, any chunking, round-trip exactly -----------------------------------

_NO_NEWLINES = st.characters(exclude_categories=("Cs",), exclude_characters="\r\n")
_NO_NEWLINES_OR_NUL = st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\x00")


@dataclass(frozen=True)
class WireEvent:
    name: str | None
    data: list[str]
    id: str | None
    comment: str | None


_events = st.lists(
    st.builds(
        WireEvent,
        name=st.none() | st.text(_NO_NEWLINES, max_size=12),
        data=st.lists(st.text(_NO_NEWLINES, max_size=40), max_size=4),
        id=st.none() | st.text(_NO_NEWLINES_OR_NUL, max_size=12),
        comment=st.none() | st.text(_NO_NEWLINES, max_size=12),
    ),
    max_size=8,
)


def serialise(
    events: Sequence[WireEvent], pick_ending: Any, unfinished: Sequence[str] = (), cut_mid_line: bool = False
) -> tuple[bytes, list[SSEMessage]]:
    """The wire form of `events` (then `unfinished` data lines with no blank line: a connection cut mid-event),
    and what a spec-conformant reader must dispatch for it."""
    lines: list[str] = []
    expected: list[SSEMessage] = []
    last_id = ""
    for event in events:
        if event.comment is not None:
            lines.append(":" + event.comment)
        if event.id is not None:
            lines.append("id: " + event.id)
            last_id = event.id
        if event.name is not None:
            lines.append("event: " + event.name)
        lines.extend("data: " + line for line in event.data)
        lines.append("")
        data = "\n".join(event.data)
        if data:  # no data lines, or one empty one: nothing to dispatch
            expected.append(SSEMessage(event=event.name or "message", data=data, id=last_id))
    lines.extend("data: " + line for line in unfinished)
    wire = ""
    previous = ""
    for index, line in enumerate(lines):
        ending = "" if cut_mid_line and unfinished and index == len(lines) - 1 else pick_ending(line, previous)
        wire += line + ending
        previous = ending
    return wire.encode(), expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=_events,
    style=st.sampled_from(["\n", "\r\n", "\r", "mixed"]),
    unfinished=st.lists(st.text(_NO_NEWLINES, max_size=20), max_size=2),
    cut_mid_line=st.booleans(),
    data=st.data(),
)
def test_any_events_round_trip_exactly_whatever_the_line_endings_and_chunking(
    events: list[WireEvent], style: str, unfinished: list[str], cut_mid_line: bool, data: st.DataObject
) -> None:
    def pick_ending(line: str, previous: str) -> str:
        if style != "mixed":
            return style
        choices = ["\n", "\r\n", "\r"]
        if previous == "\r" and line == "":
            choices.remove("\n")  # "\r" + "\n" is one CRLF on the wire: the blank line would vanish
        return data.draw(st.sampled_from(choices))

    wire, expected = serialise(events, pick_ending, unfinished, cut_mid_line)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=12)) if len(wire) > 1 else []
    got = anyio.run(read_all, split_at(wire, cuts))
    assert got == expected


# -- follow ----------------------------------------------------------------------------------------------------------


def frame(item: dict[str, Any], *, event: str = "update", id: str | None = None) -> bytes:
    head = f"id: {id}\n" if id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(item)}\n\n".encode()


def item(seq: int, type: str = "step") -> dict[str, Any]:
    return {"seq": seq, "type": type}


def decode_json(message: SSEMessage) -> list[dict[str, Any]]:
    """One item per frame, a list for a batch frame, nothing for a frame that is not JSON."""
    try:
        doc = json.loads(message.data)
    except ValueError:
        return []
    return doc if isinstance(doc, list) else [doc]


def is_end(value: dict[str, Any]) -> bool:
    return value["type"] == "done"


def seq_of(value: dict[str, Any]) -> int | None:
    return value.get("seq")


@dataclass
class Connection:
    chunks: list[bytes]
    error: Exception | None = None


@dataclass
class FakeServer:
    """Hands out one scripted connection per open and records the Last-Event-ID each open was given."""

    connections: list[Connection]
    last_event_ids: list[str | None] = field(default_factory=list)
    responses: list[httpx2.Response] = field(default_factory=list)

    def __call__(self, last_event_id: str | None) -> AbstractAsyncContextManager[httpx2.Response]:
        self.last_event_ids.append(last_event_id)
        index = min(len(self.last_event_ids), len(self.connections)) - 1
        connection = self.connections[index]
        response = sse_response(connection.chunks, error=connection.error)
        self.responses.append(response)
        return self._open(response)

    @asynccontextmanager
    async def _open(self, response: httpx2.Response) -> AsyncIterator[httpx2.Response]:
        try:
            yield response
        finally:
            await response.aclose()


async def collect(
    server: FakeServer,
    *,
    dedupe: Literal["sequence", "position"] = "sequence",
    policy: RetryPolicy = INSTANT,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    with anyio.fail_after(5):
        return [
            value
            async for value in follow(
                server, decode=decode_json, is_end=is_end, seq_of=seq_of, dedupe=dedupe, policy=policy, **kwargs
            )
        ]


async def test_follow_delivers_every_item_once_in_order_when_a_reconnect_replays_old_ones() -> None:
    server = FakeServer(
        [
            Connection([frame(item(1), id="1"), frame(item(2), id="2"), frame(item(3), id="3")]),
            Connection([frame(item(2), id="2"), frame(item(3), id="3"), frame(item(4), id="4")]),
            Connection([frame(item(4), id="4"), frame(item(5, "done"), id="5")]),
        ]
    )
    assert [v["seq"] for v in await collect(server)] == [1, 2, 3, 4, 5]
    assert len(server.last_event_ids) == 3


async def test_follow_reconnects_with_the_last_id_seen_as_last_event_id() -> None:
    server = FakeServer(
        [
            Connection([frame(item(1), id="a1"), frame(item(2), id="a2")]),
            Connection([frame(item(3), id="a3"), b": ping\n\n"]),
            Connection([frame(item(4, "done"), id="a4")]),
        ]
    )
    await collect(server)
    assert server.last_event_ids == [None, "a2", "a3"]


async def test_follow_starts_from_the_cursor_it_is_given() -> None:
    server = FakeServer([Connection([frame(item(4), id="4"), frame(item(5), id="5"), frame(item(6, "done"), id="6")])])
    got = await collect(server, last_event_id="4", last_seq=4)
    assert [v["seq"] for v in got] == [5, 6]
    assert server.last_event_ids == ["4"]


async def test_follow_with_position_dedupe_delivers_each_item_once_when_the_server_replays_from_the_start() -> None:
    # No ids, no sequences: the server replays everything on every connection (orchagent-local).
    first = [b'data: {"type": "a"}\n\n', b'data: {"type": "b"}\n\n']
    second = [*first, b'data: {"type": "c"}\n\n']
    third = [*second, b'data: {"type": "d"}\n\n', b'data: {"type": "done"}\n\n']
    server = FakeServer([Connection(first), Connection(second), Connection(third)])
    got = await collect(server, dedupe="position")
    assert [v["type"] for v in got] == ["a", "b", "c", "d", "done"]


async def test_follow_with_position_dedupe_skips_what_an_earlier_session_already_saw() -> None:
    wire = [b'data: {"type": "a"}\n\n', b'data: {"type": "b"}\n\n', b'data: {"type": "done"}\n\n']
    got = await collect(FakeServer([Connection(wire)]), dedupe="position", skip=2)
    assert [v["type"] for v in got] == ["done"]


async def test_follow_stops_right_after_the_end_item() -> None:
    server = FakeServer([Connection([frame(item(1), id="1"), frame(item(2, "done"), id="2"), frame(item(3), id="3")])])
    assert [v["seq"] for v in await collect(server)] == [1, 2]
    assert len(server.last_event_ids) == 1
    assert server.responses[0].is_closed


@pytest.mark.parametrize(
    "error",
    [httpx2.ReadError("connection reset by peer"), httpx2.RemoteProtocolError("peer closed connection")],
    ids=["read-error", "remote-protocol-error"],
)
async def test_follow_reopens_a_connection_that_breaks_mid_stream(error: Exception) -> None:
    server = FakeServer(
        [
            Connection([frame(item(1), id="1"), b'id: 2\nevent: update\ndata: {"seq"'], error=error),
            Connection([frame(item(2), id="2"), frame(item(3, "done"), id="3")]),
        ]
    )
    assert [v["seq"] for v in await collect(server)] == [1, 2, 3]
    assert server.last_event_ids == [None, "1"]


async def test_follow_reopens_a_connection_whose_read_times_out() -> None:
    server = FakeServer(
        [
            Connection([frame(item(1), id="1")], error=httpx2.ReadTimeout("no data")),
            Connection([frame(item(2, "done"), id="2")]),
        ]
    )
    assert [v["seq"] for v in await collect(server)] == [1, 2]


async def test_follow_gives_up_after_consecutive_connections_that_deliver_nothing_new() -> None:
    server = FakeServer([Connection([frame(item(1), id="1")]), Connection([frame(item(1), id="1"), b": ping\n\n"])])
    got: list[dict[str, Any]] = []

    async def consume() -> None:
        with anyio.fail_after(5):
            async for value in follow(server, decode=decode_json, is_end=is_end, seq_of=seq_of, policy=INSTANT):
                got.append(value)

    with pytest.raises(StreamError, match="gave up after 3 reconnects"):
        await consume()
    assert [v["seq"] for v in got] == [1]
    assert len(server.last_event_ids) == 4  # one that progressed, then three that did not


async def test_follow_gives_up_on_a_stream_that_keeps_breaking_and_says_why() -> None:
    server = FakeServer([Connection([], error=httpx2.ReadError("reset"))])
    with pytest.raises(StreamError, match="connection broke"):
        await collect(server)
    assert len(server.last_event_ids) == 3


async def test_follow_does_not_retry_an_oversized_event() -> None:
    server = FakeServer([Connection([b"data: " + b"x" * 5000 + b"\n\n"])])
    with pytest.raises(StreamError, match="byte limit"):
        await collect(server, max_event_bytes=1024)
    assert len(server.last_event_ids) == 1


async def test_follow_delivers_every_item_of_a_batch_frame() -> None:
    batch = json.dumps([item(2), item(3), item(4)])
    server = FakeServer(
        [
            Connection(
                [frame(item(1), id="1"), f"id: 4\nevent: batch\ndata: {batch}\n\n".encode(), frame(item(5, "done"))]
            )
        ]
    )
    assert [v["seq"] for v in await collect(server)] == [1, 2, 3, 4, 5]


async def test_follow_dedupes_inside_a_replayed_batch() -> None:
    server = FakeServer(
        [
            Connection([f"id: 2\nevent: batch\ndata: {json.dumps([item(1), item(2)])}\n\n".encode()]),
            Connection([f"id: 4\nevent: batch\ndata: {json.dumps([item(2), item(3), item(4, 'done')])}\n\n".encode()]),
        ]
    )
    assert [v["seq"] for v in await collect(server)] == [1, 2, 3, 4]


async def test_follow_skips_a_malformed_frame_that_decodes_to_nothing() -> None:
    server = FakeServer(
        [Connection([frame(item(1), id="1"), b"id: 2\ndata: {not json\n\n", frame(item(3, "done"), id="3")])]
    )
    assert [v["seq"] for v in await collect(server)] == [1, 3]


async def test_follow_with_position_dedupe_counts_batch_items_one_by_one() -> None:
    first = [f"data: {json.dumps([{'type': 'a'}, {'type': 'b'}])}\n\n".encode()]
    second = [f"data: {json.dumps([{'type': 'a'}, {'type': 'b'}, {'type': 'c'}, {'type': 'done'}])}\n\n".encode()]
    got = await collect(FakeServer([Connection(first), Connection(second)]), dedupe="position")
    assert [v["type"] for v in got] == ["a", "b", "c", "done"]
