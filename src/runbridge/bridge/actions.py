"""Which of a run's optional actions (`runs_cancel`, `runs_fork`) a result's `next` may offer: only those this
configuration shows and the backend is not known to refuse, so `next` never sends the model to a tool that is not
there or that will answer "not supported".

An adapter says what its backend refuses through `RunActionsAPI.offers` (e.g. a host that answered a fork with "not
supported", an API version without cancel); an adapter that does not implement it is taken at its capabilities.
"""

from __future__ import annotations

from typing import Literal

from ..core.config import Settings
from ..core.models import Run
from ..core.protocols import ForkAPI, RunActionsAPI, RunsAPI

__all__ = ["ALL_ACTIONS", "Action", "offered_actions"]

Action = Literal["cancel", "fork"]
ALL_ACTIONS: frozenset[str] = frozenset({"cancel", "fork"})

# What each action needs of the adapter; both tools change the backend, so read-only mode hides them.
_NEEDS: dict[Action, type] = {"cancel": RunsAPI, "fork": ForkAPI}


def offered_actions(settings: Settings, backend: object, run: Run) -> frozenset[str]:
    """The actions `next` may offer for `run` (as last read) on `backend`."""
    if settings.read_only or "runs" not in settings.toolsets:
        return frozenset()
    found: set[str] = set()
    for action, api in _NEEDS.items():
        if not isinstance(backend, api):
            continue
        if action == "cancel" and run.status.terminal:
            continue  # cancelling an ended run changes nothing
        if isinstance(backend, RunActionsAPI) and not backend.offers(action, run):
            continue
        found.add(action)
    return frozenset(found)
