"""usage_report's platform views through the official MCP client, against the platform sandbox: each view's
structured content equals the sandbox's own sums of its call history, the text is a compact table, a timeseries
comes with a valid PNG chart, logs page with a cursor, the resource shows the same view; reports of what runbridge
recorded keep their shape."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from tests.e2e.conftest import Transcript

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_E2E_PLATFORM_KEY"
WORKSPACE = "ws_acme_personal"


@pytest.fixture
def oa() -> Iterator[SandboxServer]:
    with SandboxServer("platform") as server:
        yield server


@pytest.fixture
def settings(oa: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, oa.api_key)
    profile = Profile(name="oa", family="platform", base_url=oa.base_url, api_key_env=KEY_ENV)
    return Settings(profiles={"oa": profile}, state_path=":memory:", progress_interval_seconds=0)


def expected(oa: SandboxServer, **params: Any) -> dict[str, Any]:
    """The sandbox's own sums of its history for the same period and filters."""
    response = httpx2.get(f"{oa.base_url}/_sandbox/platform/usage", params={"workspace": WORKSPACE, **params})
    response.raise_for_status()
    return response.json()


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw scanlines) of an 8-bit RGB PNG, every chunk's CRC checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, {}
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        chunks[kind] = chunks.get(kind, b"") + body
        at += 12 + length
    assert set(chunks) == {b"IHDR", b"IDAT", b"IEND"}
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


def _text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def test_each_view_equals_the_sandbox_s_own_totals(connect: Any, oa: SandboxServer) -> None:
    transcript = Transcript(oa.api_key)
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            summary = await transcript.call(client, "usage_report", {"view": "summary", "days": 30})
            breakdown = await transcript.ok(client, "usage_report", {"view": "breakdown", "days": 14})
            tenants = await transcript.ok(client, "usage_report", {"view": "tenants", "days": 30})
            author = await transcript.ok(client, "usage_report", {"view": "summary", "side": "author"})
            north = await transcript.ok(
                client, "usage_report", {"view": "summary", "tenant": "tenant-north", "agent": "summarizer"}
            )
            metrics = await transcript.ok(client, "usage_report", {"view": "metrics", "days": 30})
    transcript.assert_clean()
    month = expected(oa, days=30)
    figures = summary.structured_content["platform"]["figures"]
    assert figures["calls"] == month["total_calls"] > 100
    assert figures["failed_calls"] == month["failed_calls"]
    assert figures["total_tokens"] == month["total_tokens"]
    assert figures["cost_usd"] == pytest.approx(month["cost_cents"] / 100)
    assert summary.structured_content["total"]["runs"] == month["total_calls"]
    assert "group_by" not in summary.structured_content
    assert _text(summary).startswith("consumer summary on oa"), "the text is the table, not the JSON"
    assert f"calls={month['total_calls']:,}" in _text(summary)

    fortnight = expected(oa, days=14)
    rows = {r["agent"]: r["calls"] for r in breakdown["platform"]["rows"]}
    assert rows == fortnight["by_agent"]
    assert breakdown["platform"]["figures"]["cost_usd"] == pytest.approx(fortnight["cost_cents"] / 100)
    assert {r["tenant"]: r["calls"] for r in tenants["platform"]["rows"]} == month["by_tenant"]
    assert set(month["by_tenant"]) == {"tenant-north", "tenant-south"}

    mine = expected(oa, days=30, author="true")
    assert author["platform"]["side"] == "author"
    assert author["platform"]["figures"]["revenue_usd"] == pytest.approx(mine["revenue_cents"] / 100)
    assert mine["revenue_cents"] > 0
    filtered = expected(oa, days=30, tenant="tenant-north", agent_name="summarizer")
    assert north["platform"]["figures"]["calls"] == filtered["total_calls"] < month["total_calls"]

    overview = metrics["platform"]["figures"]
    assert overview["p50_latency_ms"] == month["p50_latency_ms"] > 0
    assert overview["p95_latency_ms"] == month["p95_latency_ms"] >= overview["p50_latency_ms"]
    assert 0 < overview["success_rate"] <= 100
    sources = [r["trigger_sources"] for r in metrics["platform"]["rows"]]
    assert sources
    assert all(sum(s.values()) == r["runs"] for s, r in zip(sources, metrics["platform"]["rows"], strict=True))


async def test_a_timeseries_comes_with_a_png_chart_of_its_days(connect: Any, oa: SandboxServer) -> None:
    with anyio.fail_after(30):
        async with connect(mode="auto") as client:
            result = await client.call_tool("usage_report", {"view": "timeseries", "days": 7})
    assert not result.is_error
    platform = result.structured_content["platform"]
    days = [r["date"] for r in platform["rows"]]
    assert len(days) == 8, "every day of the period, zeros included"
    assert days == sorted(days)
    week = expected(oa, days=7)
    assert sum(r["calls"] for r in platform["rows"]) == week["total_calls"]
    (image,) = [c for c in result.content if c.type == "image"]
    assert image.mime_type == "image/png"
    width, height, raw = png_pixels(base64.b64decode(image.data))
    assert (width, height) == (480, 160)
    bar = bytes((52, 101, 164))
    assert bar in raw, "the chart has bars"
    text = _text(result)
    assert "date" in text
    assert days[-1] in text


async def test_call_logs_page_with_a_cursor_to_the_end(connect: Any, oa: SandboxServer) -> None:
    seen: list[str] = []
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            args: dict[str, Any] = {"view": "logs", "days": 3, "limit": 4}
            for _ in range(50):
                page = (await client.call_tool("usage_report", args)).structured_content["platform"]
                seen += [r["id"] for r in page["rows"]]
                if "next_cursor" not in page:
                    break
                args["cursor"] = page["next_cursor"]
            bad = await client.call_tool("usage_report", {"view": "logs", "cursor": "nonsense"})
            stray = await client.call_tool("usage_report", {"tenant": "tenant-north"})
    total = expected(oa, days=3)["total_calls"]
    assert len(seen) == len(set(seen)) == total > 4
    assert bad.is_error
    assert "cursor" in _text(bad)
    assert stray.is_error
    assert "view" in _text(stray)


async def test_the_usage_resource_shows_the_same_view(connect: Any, oa: SandboxServer) -> None:
    import json

    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
            read = await client.read_resource("runbridge://oa/usage/summary?days=7")
            tool = await client.call_tool("usage_report", {"view": "summary", "days": 7})
    assert "runbridge://{profile}/usage/{view}{?days,side,agent,tenant}" in templates
    doc = json.loads(read.contents[0].text)
    assert doc["figures"] == tool.structured_content["platform"]["figures"]
    assert doc["figures"]["calls"] == expected(oa, days=7)["total_calls"]


async def test_the_metrics_view_shows_trigger_sources_and_refuses_a_tenant(connect: Any, oa: SandboxServer) -> None:
    """The dashboard's text table has each agent's trigger sources; the dashboard takes no tenant, so a tenant is
    refused for it rather than silently ignored."""
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            metrics = await client.call_tool("usage_report", {"view": "metrics", "days": 30})
            narrowed = await client.call_tool("usage_report", {"view": "metrics", "tenant": "tenant-north"})
    assert not metrics.is_error
    text = _text(metrics)
    assert "trigger_sources" in text.splitlines()[2], "a column of the table"
    rows = metrics.structured_content["platform"]["rows"]
    for row in rows:
        (line,) = [t for t in text.splitlines() if t.startswith(row["agent"] + " ")]
        top = max(row["trigger_sources"].items(), key=lambda kv: kv[1])
        assert f"{top[0]}={top[1]}" in line, "each agent's sources in its line"
    assert narrowed.is_error
    assert "tenant" in _text(narrowed)


async def test_the_usage_resource_takes_agent_and_tenant(connect: Any, oa: SandboxServer) -> None:
    import json

    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            read = await client.read_resource(
                "runbridge://oa/usage/summary?days=30&tenant=tenant-north&agent=summarizer"
            )
            every = await client.read_resource("runbridge://oa/usage/summary?days=30")
    doc, all_calls = json.loads(read.contents[0].text), json.loads(every.contents[0].text)
    filtered = expected(oa, days=30, tenant="tenant-north", agent_name="summarizer")
    assert doc["figures"]["calls"] == filtered["total_calls"] < all_calls["figures"]["calls"]


async def test_a_family_without_its_own_usage_refuses_a_view_and_keeps_its_report(connect: Any) -> None:
    from runbridge.core.config import Profile as P

    other = Settings(
        profiles={"wop": P(name="wop", family="openwop", base_url="http://127.0.0.1:9")}, state_path=":memory:"
    )
    with anyio.fail_after(10):
        async with connect(mode="legacy", server_settings=other) as client:
            refused = await client.call_tool("usage_report", {"view": "summary"})
            report = await client.call_tool("usage_report", {})
    assert refused.is_error
    assert "wop" in _text(refused)
    assert report.structured_content["group_by"] == "target"
    assert "platform" not in report.structured_content


async def test_the_author_side_timeseries_and_logs_are_the_own_agents_calls(connect: Any, oa: SandboxServer) -> None:
    """With side author, the timeseries and the call logs count the calls of the account's own agents (what they
    earned), equal to the sandbox's sums of those calls, not the account's spending."""
    rows: list[dict[str, Any]] = []
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            series = (
                await client.call_tool("usage_report", {"view": "timeseries", "side": "author", "days": 7})
            ).structured_content["platform"]
            args: dict[str, Any] = {"view": "logs", "side": "author", "days": 7, "limit": 50}
            for _ in range(50):
                page = (await client.call_tool("usage_report", args)).structured_content["platform"]
                rows += page["rows"]
                if "next_cursor" not in page:
                    break
                args["cursor"] = page["next_cursor"]
    mine = expected(oa, days=7, author="true")
    asked = oa.stats()["requests"]
    assert asked.get("GET /author-usage/timeseries") == 1
    assert asked.get("GET /author-usage/logs", 0) >= 1
    assert not asked.get("GET /usage/timeseries"), "not the spending side"
    assert not asked.get("GET /usage/logs"), "not the spending side"
    assert series["side"] == page["side"] == "author"
    assert sum(r["calls"] for r in series["rows"]) == mine["total_calls"] > 0
    assert series["figures"]["revenue_usd"] == pytest.approx(mine["revenue_cents"] / 100)
    assert mine["revenue_cents"] > 0
    assert len(rows) == len({r["id"] for r in rows}) == mine["total_calls"]
    assert {r["agent"].split("@")[0] for r in rows} <= set(mine["by_agent"])
