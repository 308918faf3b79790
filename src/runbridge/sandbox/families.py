"""The wire families a sandbox server can speak, by name. Add a family by adding its app factory here.

A factory takes the shared `SandboxContext` and a family-specific variant (a preset name, a settings object, a
dict of overrides, or None for the family's default) and returns an ASGI app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp

from .context import SandboxContext
from .langgraph import build_app as build_langgraph
from .openwop import build_app as build_openwop
from .orchagent import build_app as build_orchagent
from .orchestrations import build_app as build_orchestrations
from .orq import build_app as build_orq
from .platform import build_app as build_platform

__all__ = ["FAMILIES", "AppFactory", "build_family"]

AppFactory = Callable[[SandboxContext, Any], ASGIApp]

FAMILIES: dict[str, AppFactory] = {
    "langgraph": build_langgraph,
    "openwop": build_openwop,
    "orchagent": build_orchagent,
    "orchestrations": build_orchestrations,
    "orq": build_orq,
    "platform": build_platform,
}


def build_family(family: str, ctx: SandboxContext, variant: Any = None) -> ASGIApp:
    try:
        factory = FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown sandbox family {family!r}; known: {', '.join(FAMILIES)}") from None
    return factory(ctx, variant)
