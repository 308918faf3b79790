"""The Synapse orchestrations wire family of the sandbox (docs/backends/orchestrations.md)."""

from .app import build_app
from .settings import PRESETS, OrchestrationsSettings, resolve_settings

__all__ = ["PRESETS", "OrchestrationsSettings", "build_app", "resolve_settings"]
