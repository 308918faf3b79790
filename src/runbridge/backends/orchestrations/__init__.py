"""Synapse orchestrations (reference §4): a catalogue of orchestrations, runs streamed or synchronous on v1 (and
queued on the v2 scale-mode API where the server has it), human gates with typed fields, usage from step history."""

from .adapter import OrchestrationsBackend

__all__ = ["OrchestrationsBackend"]
