"""Answering an interrupt: run-scoped by node id, else with its signed token (reference §5d, §7.1).

The run-scoped call (`POST /runs/{id}/interrupts/{nodeId}`) needs the `approvals:respond` scope and a node id. When
the key lacks the scope (403) or the gate names no node, the interrupt's own token answers it
(`POST /interrupts/{token}`, no credential), repeating the interrupt's correlation keys as the token surface
requires. An expired token is swapped once for the fresh one the run's snapshot carries.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import quote

from ...core.errors import (
    AuthError,
    BackendError,
    BadRequestError,
    ConflictError,
    GateError,
    NotFoundError,
    RunbridgeError,
    sentences,
)
from ...core.models import Gate, Run
from ...http import segment

__all__ = ["Resolver"]

log = logging.getLogger("runbridge.openwop")

Call = Callable[..., Awaitable[Any]]
GetRun = Callable[[str], Awaitable[Run]]

_NO_SCOPE = (
    "The profile's key may not answer gates on this host (HTTP 403: it lacks the approvals:respond scope), and the "
    "run gave no interrupt token to answer with. Answer it in the host's own UI, or use a key with that scope."
)
_NO_ADDRESS = (
    "This gate names no node and carries no interrupt token, so the host offers no way to answer it through the API."
)


def _with_correlation(value: Any, correlation: object) -> Any:
    """`value` carrying every correlation key of the interrupt (a token resolve without them is 422)."""
    if not isinstance(correlation, dict) or not isinstance(value, dict):
        return value
    answer = cast(dict[str, Any], value)
    keys = cast(dict[str, Any], correlation)
    return {**{k: v for k, v in keys.items() if k not in answer}, **answer}


class Resolver:
    """Answers gates for one adapter, through its request function (`call`) and run snapshots (`get_run`)."""

    def __init__(self, call: Call, get_run: GetRun) -> None:
        self._call = call
        self._get_run = get_run

    async def resolve(self, gate: Gate, value: Any) -> dict[str, Any]:
        node = gate.resume.get("node_id") or (gate.step.id if gate.step else "")
        token = gate.resume.get("token")
        if node:
            try:
                doc = await self._run_scoped(gate, str(node), value)
                return {"resolved": True, "response": doc}
            except AuthError as exc:
                if exc.status != 403:
                    raise
                if not token:
                    raise GateError(_NO_SCOPE) from None
                log.info("run-scoped resolve refused (403); answering gate %s with its interrupt token", gate.gate_id)
        elif not token:
            raise GateError(_NO_ADDRESS)
        doc = await self._by_token(gate, value, str(token), refreshed=False)
        return {"resolved": True, "response": doc, "via": "token"}

    async def _run_scoped(self, gate: Gate, node: str, value: Any) -> dict[str, Any]:
        try:
            doc = await self._call(
                "POST",
                f"/runs/{segment(gate.run_id)}/interrupts/{segment(node)}",
                action="answer the gate",
                mutation=True,
                json={"resumeValue": value},
            )
        except NotFoundError as exc:
            if exc.code in ("run_not_found",):
                raise
            raise GateError(
                "This gate is no longer open: it was already answered, or the run was cancelled.", closed=True
            ) from None
        except ConflictError:
            raise GateError("This gate was already answered.", closed=True) from None
        except BackendError as exc:
            if exc.status in (410, 422) and exc.code in ("interrupt_cancelled", "interrupt_expired"):
                raise GateError(
                    "The run was cancelled or the gate expired; it can no longer be answered.", closed=True
                ) from None
            if exc.status in (400, 422):
                raise GateError(sentences("The host rejected the answer", exc.message)) from None
            raise
        return cast(dict[str, Any], doc) if isinstance(doc, dict) else {}

    async def _by_token(self, gate: Gate, value: Any, token: str, *, refreshed: bool) -> dict[str, Any]:
        body = {"resumeValue": _with_correlation(value, gate.resume.get("correlation"))}
        try:
            doc = await self._call(
                "POST",
                f"/interrupts/{quote(token, safe='')}",
                action="answer the gate with its interrupt token",
                mutation=True,
                json=body,
                anonymous=True,
            )
        except AuthError as exc:
            if exc.status == 403:
                raise GateError(
                    "This gate's interrupt token may only inspect the gate, not answer it (HTTP 403). Answer it in "
                    "the host's own UI, or use a key with the approvals:respond scope."
                ) from None
            raise GateError(
                f"The host no longer accepts this gate's interrupt token (HTTP {exc.status}); it cannot be answered "
                "through the API."
            ) from None
        except ConflictError:
            raise GateError("This gate was already answered (its interrupt token was used).", closed=True) from None
        except NotFoundError as exc:
            if exc.status != 410:
                raise GateError(
                    "This gate is no longer open: it was already answered, or the run was cancelled.", closed=True
                ) from None
            fresh = None if refreshed else await self._fresh_token(gate)
            if fresh is not None and fresh != token:
                return await self._by_token(gate, value, fresh, refreshed=True)
            raise GateError(
                "This gate expired: its interrupt token is no longer valid and the run offers no new one.", closed=True
            ) from None
        except BadRequestError as exc:
            raise GateError(sentences("The host rejected the answer", exc.message)) from None
        return cast(dict[str, Any], doc) if isinstance(doc, dict) else {}

    async def _fresh_token(self, gate: Gate) -> str | None:
        """The token the run's snapshot carries now for the same interrupt, if the gate is still open."""
        try:
            run = await self._get_run(gate.run_id)
        except RunbridgeError:
            return None
        current = run.open_gate
        # Interrupts are addressed by node (reference §5f): the same node still waiting is the same gate, even on a
        # host whose snapshot names the interrupt differently from its events.
        if current is None or current.resume.get("node_id") != gate.resume.get("node_id"):
            return None
        token = current.resume.get("token")
        return str(token) if token else None

    async def inspect(self, token: str) -> dict[str, Any] | None:
        """`GET /interrupts/{token}`: the interrupt's payload (kind, key, data), or None when the host will not say."""
        try:
            doc = await self._call(
                "GET",
                f"/interrupts/{quote(token, safe='')}",
                action="inspect the gate's interrupt token",
                anonymous=True,
            )
        except RunbridgeError as exc:
            log.info("could not inspect an interrupt token (%s)", exc)
            return None
        return cast(dict[str, Any], doc) if isinstance(doc, dict) else None
