"""The HTTP/1.1 protocol `runbridge serve --http` runs uvicorn with: uvicorn's h11 protocol, whose keep-alive timer
is also cancelled when a connection ends abnormally.

uvicorn arms a keep-alive timer after every response (a bound method of the connection's protocol, held by the
event loop) and cancels it when the connection ends cleanly, but not when it ends with an error (the client reset
the connection, as HTTP clients and load balancers do when they drop a pooled connection). The timer then keeps the
protocol, its transport, its last request and everything that request's context held for the whole keep-alive
window (75 s here) after the connection is gone: under many short-lived clients, memory that grows with the rate
of connections for as long as the window."""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["ClosingH11Protocol"]


class ClosingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, its keep-alive timer cancelled however the connection ends."""

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._unset_keepalive_if_required()  # uvicorn does so only when `exc is None`
