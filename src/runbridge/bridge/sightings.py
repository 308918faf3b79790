"""Where runbridge has seen a run or a gate (`Sightings`): the profile a call means when it names none, and the
profile to name when a backend says "not found"."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from ..core.config import Settings
from ..core.errors import NotFoundError, sentences
from ..state import RunStore

__all__ = ["Sightings"]


class Sightings:
    """Reads runbridge's record of runs and gates across profiles."""

    def __init__(self, settings: Settings, store: RunStore) -> None:
        self._settings = settings
        self._store = store

    async def seen_on(self, *, run_id: str | None = None, gate_id: str | None = None) -> list[str]:
        """The profiles on which runbridge has recorded this run (or gate), in configuration order."""
        found: list[str] = []
        for name in self._settings.profiles:
            record = (
                await self._store.get_run(name, run_id) if run_id else await self._store.get_gate(name, gate_id or "")
            )
            if record is not None:
                found.append(name)
        return found

    async def locate(self, profile: str | None, *, run_id: str | None = None, gate_id: str | None = None) -> str | None:
        """The profile a call about a run (or gate) means: the one named; when none is named, the profile runbridge
        recorded the run on, if that is one profile and not the default; else None (the default profile). So a
        run started on another profile is found without the model having to repeat the profile."""
        if profile is not None or len(self._settings.profiles) < 2:
            return profile
        seen = await self.seen_on(run_id=run_id, gate_id=gate_id)
        if len(seen) != 1 or seen[0] == self._settings.profile(None).name:
            return profile
        return seen[0]

    async def elsewhere(self, profile: str, *, run_id: str | None = None, gate_id: str | None = None) -> str:
        """A sentence naming the other profiles runbridge saw this run (or gate) on, or ""."""
        others = [name for name in await self.seen_on(run_id=run_id, gate_id=gate_id) if name != profile]
        if not others:
            return ""
        what = f"run {run_id!r}" if run_id else f"gate {gate_id!r}"
        names = " or ".join(repr(name) for name in others)
        return f"runbridge saw {what} on profile {names}: call again with profile={names.split(' or ')[0]}."

    @asynccontextmanager
    async def hinting(
        self, profile: str, *, run_id: str | None = None, gate_id: str | None = None
    ) -> AsyncGenerator[None]:
        """A backend's "not found" for a run (or gate) runbridge saw on another profile also names that profile."""
        try:
            yield
        except NotFoundError as exc:
            hint = await self.elsewhere(profile, run_id=run_id, gate_id=gate_id)
            if hint:
                exc.message = sentences(exc.message, hint)
            raise
