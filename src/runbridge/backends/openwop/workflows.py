"""The workflows a profile names, as targets: described by `GET /v1/workflows/{id}` where the host has that route
(docs/backends/openwop.md), and still runnable where it has not (one reference host answers every describe with a bare
404 `not_found`, "no route"; it runs the same ids all the same).

Descriptions are kept for a short while only, so that a workflow changed on the host shows its new steps and
total without restarting runbridge.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...core.errors import NotFoundError
from ...core.models import StepRef, Target
from ...http import segment

__all__ = ["UNDESCRIBED", "Workflows", "target_from_doc"]

Call = Callable[..., Awaitable[Any]]

UNDESCRIBED = (
    "This host does not describe its workflows, so its inputs and steps are not known here; runs_start runs it "
    "(pass the inputs the workflow expects)."
)
_TTL = 60.0  # seconds a description is reused before the host is asked again


def target_from_doc(doc: dict[str, Any], target_id: str) -> Target:
    """A workflow definition as a target: its nodes become the steps, named by their labels."""
    nodes = doc.get("nodes") or doc.get("steps") or []
    steps = [
        StepRef(id=str(n.get("id")), name=str(n.get("name") or n.get("label") or n.get("id")), index=i + 1)
        for i, n in enumerate(nodes)
        if isinstance(n, dict) and n.get("id")
    ]
    return Target(
        id=str(doc.get("workflowId") or doc.get("id") or target_id),
        name=doc.get("name") if isinstance(doc.get("name"), str) else None,
        kind="workflow",
        description=doc.get("description") if isinstance(doc.get("description"), str) else None,
        steps=steps or None,
        step_count=len(steps) or None,
        input_schema=doc.get("inputSchema") if isinstance(doc.get("inputSchema"), dict) else None,
    )


class Workflows:
    """The host's workflow descriptions, each asked for at most once per `_TTL`."""

    def __init__(self, call: Call, configured: list[str], *, clock: Callable[[], float] = time.monotonic) -> None:
        """`configured`: the workflow ids the profile names, the only ones taken as runnable undescribed."""
        self._call = call
        self._configured = frozenset(configured)
        self._clock = clock
        self._known: dict[str, tuple[float, Target]] = {}
        self.no_route = False  # the host has no describe route: every id is runnable, none described

    def cached(self, target_id: str) -> Target | None:
        """The description last read, however old (for names where no request should be made)."""
        found = self._known.get(target_id)
        return found[1] if found else None

    async def describe(self, target_id: str) -> Target:
        """The workflow as a target. Raises `NotFoundError` when the host says it has no such workflow, or when it
        cannot describe workflows and the profile does not name this one."""
        found = self._known.get(target_id)
        if found is not None and self._clock() - found[0] < _TTL:
            return found[1]
        if self.no_route and target_id in self._configured:
            return Target(id=target_id, kind="workflow", description=UNDESCRIBED, details={"described": False})
        try:
            doc = await self._call("GET", f"/workflows/{segment(target_id)}", action=f"describe workflow {target_id!r}")
        except NotFoundError as exc:
            # A 404 that does not name the workflow, for one the profile names: the route is missing, not the
            # workflow (the same host runs it). Any other id stays unknown.
            if exc.code == "workflow_not_found" or target_id not in self._configured:
                raise
            self.no_route = True
            return await self.describe(target_id)
        target = target_from_doc(doc if isinstance(doc, dict) else {}, target_id)
        self._known[target_id] = (self._clock(), target)
        return target
