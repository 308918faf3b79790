"""runbridge's own record of runs and gates (survives restarts; works where a backend cannot list)."""

from .registry import GateRecord, GateState, Registry, RunRecord, offset_cursor

__all__ = ["GateRecord", "GateState", "Registry", "RunRecord", "offset_cursor"]
