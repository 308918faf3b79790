"""Gate latency: from the progress notification that announces a human gate to the question reaching the human
(a live elicitation), for an orchagent thread run (two gates: a sign-in link and a tool approval) and an OpenWOP
approval run, each answered at once by a scripted human.

Before the question goes out the bridge makes sure the run still waits on the gate (a replayed stream may carry gates
the run is long past); how long that check takes is what this measures.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult

from runbridge.core import Profile, Settings
from runbridge.core.logs import configure_logging
from runbridge.http import write_token_file
from runbridge.sandbox.orchagent import EXAMPLE_SPECS
from runbridge.server import build_server

from ._support import Figure, Outcome, median, sandbox_process
from .overhead import settings_for

TARGET_MS = 100.0


class _Timeline:
    """When each gate was announced (progress) and when its question arrived (elicitation)."""

    def __init__(self) -> None:
        self.announced: list[float] = []
        self.asked: list[float] = []

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        if message and "waiting for a human" in message:
            self.announced.append(time.perf_counter())

    async def human(self, _ctx: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(time.perf_counter())
        mode = getattr(params, "mode", "form")
        if mode == "url":
            return ElicitResult(action="accept")
        schema = getattr(params, "requested_schema", {}) or {}
        decision = schema.get("properties", {}).get("decision", {})
        options = [o.get("const") for o in decision.get("oneOf", [])] or decision.get("enum", [])
        choice = "approve" if "approve" in options else "accept"
        return ElicitResult(action="accept", content={"decision": choice})

    def waits(self) -> list[float]:
        return [asked - announced for announced, asked in zip(self.announced, self.asked, strict=False)]


async def _orchagent(repeat: int, tmp: Path) -> list[float]:
    waits: list[float] = []
    with sandbox_process("orchagent") as sandbox:
        token_file = tmp / "token.json"
        write_token_file(token_file, sandbox.api_key)
        spec = tmp / "composio_calendar_hil_chat.json"
        spec.write_text(json.dumps(EXAMPLE_SPECS["calendar_hil_chat"]), encoding="utf-8")
        profile = Profile(
            name="oa",
            family="orchagent",
            base_url=sandbox.base_url,
            token_file=token_file,
            allowed_spec_dirs=[tmp.resolve()],  # the spec file is read only from an allowed directory
        )
        settings = Settings(profiles={"oa": profile}, state_path=str(tmp / "oa.db"), progress_interval_seconds=0)
        for _ in range(repeat):
            timeline = _Timeline()
            async with Client(build_server(settings), mode="legacy", elicitation_callback=timeline.human) as client:
                created = await client.call_tool("threads_create", {"path": str(spec)})
                thread_id = (created.structured_content or {})["thread_id"]
                result = await client.call_tool(
                    "threads_send",
                    {"thread_id": thread_id, "user_prompt": "Book a sync with Ana on Tuesday"},
                    progress_callback=timeline.progress,
                )
            report: dict[str, Any] = result.structured_content or {}
            if report.get("status") != "completed" or len(timeline.asked) != 2:
                raise RuntimeError(f"the orchagent gated run did not complete: {report.get('status')}")
            waits += timeline.waits()
    return waits


async def _openwop(repeat: int, tmp: Path) -> list[float]:
    waits: list[float] = []
    with sandbox_process() as sandbox:
        settings = settings_for(sandbox, ["approval-demo"], tmp / "ow.db", progress_interval_seconds=0)
        for _ in range(repeat):
            timeline = _Timeline()
            async with Client(build_server(settings), mode="legacy", elicitation_callback=timeline.human) as client:
                result = await client.call_tool(
                    "runs_start", {"target_id": "approval-demo"}, progress_callback=timeline.progress
                )
            report: dict[str, Any] = result.structured_content or {}
            if report.get("status") != "completed" or len(timeline.asked) != 1:
                raise RuntimeError(f"the OpenWOP gated run did not complete: {report.get('status')}")
            waits += timeline.waits()
    return waits


async def measure(repeat: int = 5) -> Outcome:
    outcome = Outcome("gates", f"python -m bench --only gates --repeat {repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        results = {"orchagent": await _orchagent(repeat, Path(tmp)), "openwop": await _openwop(repeat, Path(tmp))}
    outcome.details = {family: sorted(w * 1000 for w in waits) for family, waits in results.items()}
    reference = median(results["openwop"])
    for family, waits in results.items():
        value = median(waits) * 1000
        outcome.figures.append(
            Figure(
                "gates",
                f"gate announced → question at the human ({family})",
                value,
                "ms",
                target=f"≤ {TARGET_MS:g} ms",
                met=value <= TARGET_MS,
                ratio="" if family == "openwop" else f"{value / (reference * 1000):.1f}x the OpenWOP gate",
                absolute=f"median over {len(waits)} gates; max {max(waits) * 1000:.1f} ms",
            )
        )
    return outcome


if __name__ == "__main__":  # pragma: no cover
    configure_logging("WARNING")
    result = anyio.run(measure, int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    print(result.details)
    for figure in result.figures:
        print(f"{figure.name}: {figure.value:.1f} {figure.unit}  ({figure.absolute})")
