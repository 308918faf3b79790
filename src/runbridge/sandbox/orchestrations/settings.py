"""How one sandbox Synapse server behaves where real deployments differ (docs/backends/orchestrations.md).

* `v2`: serve the scale-mode `/api/v2` queue API (queued runs, status, re-attachable events, cancel); without it
  every `/api/v2` route answers 503, as on a server whose scale mode is off.
* `ping_seconds`: the `: ping` heartbeat of v1 streams after that long without an event (the real server: 10 s);
  `keepalive_seconds`: the `: keepalive` comment of v2 streams (15 s). The sandbox's `keepalive_seconds` setting
  overrides both.
* `step_labels`: the describe route's step `label` is the step's name; false sends `""`, as Synapse 1.9.2 does (it
  stores a step's name as `name`, and its describe route reads `label`). The events name every step either way.
* `step_key`: the key naming an event's step: `orch_step_id` as the server's code sends it, or `step_id` as the
  documentation spells it (then `step_type` is left out too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

__all__ = ["PRESETS", "OrchestrationsSettings", "resolve_settings"]


@dataclass(frozen=True)
class OrchestrationsSettings:
    name: str = "reference"
    v2: bool = False
    ping_seconds: float = 10.0
    keepalive_seconds: float = 15.0
    step_key: Literal["orch_step_id", "step_id"] = "orch_step_id"
    step_labels: bool = True


PRESETS: dict[str, OrchestrationsSettings] = {
    "reference": OrchestrationsSettings(),
    "scale": OrchestrationsSettings(name="scale", v2=True),
    "seed": OrchestrationsSettings(name="seed", step_key="step_id"),
    "1.9.2": OrchestrationsSettings(name="1.9.2", step_labels=False),
}


def resolve_settings(variant: str | OrchestrationsSettings | Mapping[str, Any] | None = None) -> OrchestrationsSettings:
    """A preset by name, a settings object, or a dict of overrides (optionally with `"base": "<preset>"`)."""
    if variant is None:
        return PRESETS["reference"]
    if isinstance(variant, OrchestrationsSettings):
        return variant
    if isinstance(variant, str):
        if variant not in PRESETS:
            raise ValueError(f"unknown orchestrations variant {variant!r}; known: {', '.join(PRESETS)}")
        return PRESETS[variant]
    values = dict(variant)
    base = resolve_settings(values.pop("base", None))
    unknown = set(values) - {f.name for f in fields(OrchestrationsSettings)}
    if unknown:
        raise ValueError(f"unknown orchestrations settings: {sorted(unknown)}")
    return replace(base, **values) if values else base
