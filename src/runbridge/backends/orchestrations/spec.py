"""The Synapse orchestrations family as runbridge knows it outside the adapter: options, what doctor checks and what
the demo runs. Imports no HTTP code: it is read at startup."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...core.families import DemoDefaults, DoctorChecks, FamilyOptions, FamilySpec

__all__ = ["SPEC", "OrchestrationsOptions"]


class OrchestrationsOptions(FamilyOptions):
    """`[profiles.NAME.options]` of a Synapse profile (the adapter's docstring says what each one changes)."""

    # ["v1", "v2"] when the server runs in scale mode: runs are then queued on v2, re-attachable and cancellable.
    api_versions: list[Literal["v1", "v2"]] = Field(default_factory=lambda: ["v1"], min_length=1)
    # On v1, start and resume runs with the streaming endpoints, read in the background (false: synchronous calls).
    stream: bool = True


def _adapter() -> type:
    from .adapter import OrchestrationsBackend

    return OrchestrationsBackend


SPEC = FamilySpec(
    name="orchestrations",
    display_name="Synapse orchestrations",
    adapter=_adapter,
    options=OrchestrationsOptions,
    doctor=DoctorChecks(host_kind="Synapse server", api_prefixes=("/api/v1", "/api/v2", "/api")),
    demo=DemoDefaults(workflow="orch-research-report"),
    sandbox="orchestrations",
)
