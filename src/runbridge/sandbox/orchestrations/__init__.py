"""The Synapse orchestrations wire family of the sandbox (reference §4, §6.8, §7.2)."""

from .app import build_app
from .settings import PRESETS, OrchestrationsSettings, resolve_settings

__all__ = ["PRESETS", "OrchestrationsSettings", "build_app", "resolve_settings"]
