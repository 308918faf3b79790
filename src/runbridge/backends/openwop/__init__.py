"""OpenWOP (reference §5): workflows by id, runs with sequenced SSE events, interrupts, cancel and fork."""

from .adapter import OpenWopBackend

__all__ = ["OpenWopBackend"]
