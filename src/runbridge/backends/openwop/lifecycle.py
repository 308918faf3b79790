"""Small pieces of a run's lifecycle on an OpenWOP host: the create body, the "not found" that may hide wrong
credentials, and a cancel that the host answers `cancelling` (docs/backends/openwop.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from ...core.errors import NotFoundError, RunbridgeError, sentences
from ...core.models import Run, StartRequest

__all__ = ["not_found_hint", "settled", "start_body"]

_SETTLE_WITHIN = 3.0  # seconds a cancel is given to take effect before runbridge reports "requested"
_SETTLE_EVERY = 0.1


def start_body(request: StartRequest) -> dict[str, Any]:
    """`POST /runs`: the workflow, its inputs (a message goes in as the `message` input), tags and metadata."""
    body: dict[str, Any] = {"workflowId": request.target_id, "inputs": request.inputs}
    if request.message is not None:
        body["inputs"] = {**request.inputs, "message": request.message}
    if request.tags:
        body["tags"] = request.tags
    if request.metadata:
        body["metadata"] = request.metadata
    return body


def not_found_hint(exc: NotFoundError, what: str) -> NotFoundError:
    """`exc`, saying the credentials may be wrong: one real host answers a wrong bearer with an anonymous session,
    so a 404 may hide bad credentials (docs/backends/openwop.md)."""
    hint = f"No {what} with that id; if it was just created, the credentials may be wrong"
    if hint not in exc.message:
        exc.message = sentences(exc.message, hint)
    return exc


async def settled(get_run: Callable[[str], Awaitable[Run]], run_id: str, answered: Run) -> Run:
    """The run as the host has it once a cancel took effect (hosts answer `cancelling` and end the run a moment
    later), read for a few seconds at most; `answered` (the host's own answer) when it has not ended by then."""
    last = answered
    with anyio.move_on_after(_SETTLE_WITHIN):
        while True:
            try:
                last = await get_run(run_id)
            except RunbridgeError:
                return answered if last is answered else last
            if last.status.terminal:
                return last
            await anyio.sleep(_SETTLE_EVERY)  # bounded by the deadline above
    return last if last.status.value != "unknown" else answered
