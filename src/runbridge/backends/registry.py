"""The families runbridge ships, registered in `core.families` when runbridge is imported (`runbridge/__init__.py`
calls `register_shipped`).

Adding a family: its package under `backends/` with a `spec.py` (its `FamilySpec`: options, environment profile,
credentials, error shape, doctor checks, login and demo defaults), its sandbox under `sandbox/`, and one line
here. Nothing else names a family: the configuration, the CLI, the secret policy, the error mapping, doctor and the
demo read the registry. Spec modules import no HTTP code, and the adapters are imported on first use.
"""

from __future__ import annotations

from ..core.families import FamilySpec, register
from .langgraph.spec import SPEC as LANGGRAPH
from .openwop.spec import SPEC as OPENWOP
from .orchagent.spec import SPEC as ORCHAGENT
from .orchestrations.spec import SPEC as ORCHESTRATIONS
from .orq.spec import SPEC as ORQ
from .platform.spec import SPEC as PLATFORM

__all__ = ["SHIPPED", "register_shipped"]

SHIPPED: tuple[FamilySpec, ...] = (OPENWOP, ORCHAGENT, ORCHESTRATIONS, PLATFORM, LANGGRAPH, ORQ)


def register_shipped() -> None:
    """Register every shipped family (again is harmless: a spec registered twice is the same spec)."""
    for spec in SHIPPED:
        register(spec)
