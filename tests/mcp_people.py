"""The people on the client side of the tests: a scripted human answering elicitations, and a recorder of the
progress notifications a call received. Shared by every test directory (`from tests.mcp_people import ...`)."""

from __future__ import annotations

from typing import Any

from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult


class Human:
    """A person who gives the scripted answers in order, each (action, content), then dismisses; every question is
    kept."""

    def __init__(self, *answers: tuple[str, dict[str, Any] | None]) -> None:
        self.answers = list(answers)
        self.questions: list[ElicitRequestParams] = []

    async def __call__(self, _ctx: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params)
        action, content = self.answers.pop(0) if self.answers else ("cancel", None)
        return ElicitResult(action=action, content=content)  # type: ignore[arg-type]


class Progress:
    """Every progress notification of a call: (progress, total, message)."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.updates.append((progress, total, message))

    @property
    def messages(self) -> list[str]:
        return [message for _, _, message in self.updates if message]
