"""A run resource kept up to date: a client subscribed to `runbridge://{profile}/runs/{run_id}` hears that it
changed while the run goes on, and once more at its end; reading the resource shows where the run is.

    python examples/behaviours/run_subscription.py
"""

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import anyio

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import PROFILE, check, connect, key_profile, run
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import ResourceUpdatedNotification


async def main() -> None:
    updated: list[str] = []
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        nonlocal changed
        if isinstance(message, ResourceUpdatedNotification):
            updated.append(message.params.uri)
            changed.set()

    profile = key_profile() + 'workflows = ["long-demo"]\n'
    async with connect(profile=profile, speed=5.0, message_handler=on_message) as session:
        handle = await session.ok("runs_start", {"target_id": "long-demo", "wait_seconds": 0})
        uri = f"runbridge://{PROFILE}/runs/{handle['run_id']}"
        with warnings.catch_warnings():  # a 2025 client subscribes so; 2026 clients listen (runbridge serves both)
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await session.client.subscribe_resource(uri)  # pyright: ignore[reportDeprecated]
        status = "running"
        while status == "running":
            await changed.wait()
            changed = anyio.Event()
            (content,) = (await session.client.read_resource(uri)).contents
            status = json.loads(content.text)["run"]["status"]  # type: ignore[union-attr]
        check(status == "completed", "the resource showed the run's end")
        check(set(updated) == {uri}, "every update named the subscribed run")
        check(2 <= len(updated) < 55, "changes were told as they came, coalesced (not one per event)")


if __name__ == "__main__":
    run(main)
