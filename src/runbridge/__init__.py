"""runbridge: an MCP server that lets any MCP host drive agent-orchestration platforms."""

from .core import *  # noqa: F403  (the domain model is the public surface)
from .core import __all__ as _core_all

__version__ = "0.1.0"

__all__ = [*_core_all, "__version__"]
