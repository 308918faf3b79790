"""The only private attributes of the `mcp` SDK runbridge uses, each for something its public API does not offer.

Everything else runbridge does with the SDK goes through its public API. These two go through attributes the SDK
may rename in any minor release, so: `mcp` is pinned to the minor line runbridge is tested with (pyproject.toml),
this is the one module allowed to touch them (pyright reports private use everywhere else), and
tests/structure/test_sdk_private_hooks.py fails, naming the attribute, when an installed SDK no longer has one.
"""

# pyright: reportPrivateUsage=false

from __future__ import annotations

from typing import Any

from mcp.server.connection import Connection
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession

__all__ = ["HOOKS", "connection_of", "lowlevel_server"]

HOOKS = {
    "MCPServer._lowlevel_server": "lowlevel_server: serve runbridge's own stdio streams; register the "
    "subscription handlers",
    "ServerSession._connection": "connection_of: identify a subscriber, and end its subscriptions with it",
}
"""Each private attribute used, and what for (the structure test names these)."""


def lowlevel_server(mcp: MCPServer[Any]) -> Server[Any]:
    """The low-level server under `mcp`, needed for two things `MCPServer` does not offer:

    * serving a connection over streams runbridge made (its stdio transport answers broken lines, which the SDK's
      drops in silence): `MCPServer.run_stdio_async` only ever uses the SDK's own transport;
    * request handlers `MCPServer` does not serve (`resources/subscribe`, `resources/unsubscribe`) or serves in a
      way runbridge must wrap (`subscriptions/listen`, which follows the runs a stream asks for). An `Extension`
      can add methods but never replace one, and advertises itself as an extension the client never asked for.
    """
    return mcp._lowlevel_server


def connection_of(session: ServerSession) -> Connection:
    """The client connection a request's session speaks on. A subscription belongs to the connection (the
    request that made it is long over when the run changes), and ends with it (`Connection.exit_stack`); a
    low-level handler's context offers the session only, made anew for each request."""
    return session._connection
