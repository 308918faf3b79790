"""The tool calls in progress, for a graceful stop (`Calls`)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager

import anyio

from ..core.errors import RunbridgeError

__all__ = ["STOPPING", "Calls"]

STOPPING = (
    "runbridge is stopping, so this call ended before its run did: the run goes on, and where the call got to is "
    "saved. Once runbridge is back, call runs_watch with the run_id (runs_list shows it) to continue"
)


class Calls:
    """Counts the tool calls in progress, so that shutdown can end them and let them save where they got to before
    the run store closes."""

    def __init__(self) -> None:
        self._count = 0
        self._stopping = False
        self._scopes: set[anyio.CancelScope] = set()
        self._idle = anyio.Event()

    @contextmanager
    def serving(self) -> Generator[None]:
        """Count one tool call in progress; a call that `stop` ends is an error saying so (the model learns the run
        goes on and how to continue)."""
        if self._stopping:
            raise RunbridgeError(STOPPING)
        self._count += 1
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                yield
        finally:
            self._scopes.discard(scope)
            self._count -= 1
            if not self._count:
                self._idle.set()
                self._idle = anyio.Event()
        if scope.cancelled_caught:
            raise RunbridgeError(STOPPING)

    async def stop(self, within: float) -> None:
        """The graceful stop: end every tool call in progress (each saves where it got to and answers that
        runbridge is stopping, while the transport can still carry the answer), refuse new ones, and wait up to
        `within` seconds for them to be done."""
        self._stopping = True
        for scope in list(self._scopes):
            scope.cancel()
        await self.drain(within)

    async def drain(self, within: float) -> None:
        """Wait up to `within` seconds, even while being cancelled, for the tool calls in progress to end.

        A server that stops cancels its calls without waiting for them (uvicorn does so on the HTTP path); a call
        saves its cursor on the way out, which must happen before the store closes.
        """
        with anyio.move_on_after(within, shield=True):
            while self._count:
                await self._idle.wait()
