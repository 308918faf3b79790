"""Answering an interrupt: run-scoped by node id, or with its signed token (docs/backends/openwop.md).

The run-scoped call (`POST /runs/{id}/interrupts/{nodeId}`) needs the `approvals:respond` scope and a node id. An
external-event interrupt with a token is answered through the token (`POST /interrupts/{token}`, no credential): one
real host answers only there, and 404 on the run-scoped path. The token also answers when the key lacks the scope
(403) or the gate names no node; a token resolve repeats the interrupt's correlation keys, as that surface requires.
An expired token is swapped once for the fresh one the run's snapshot carries.

A gate is reported closed only when the host says it is: a 409, a 410, or a 404 while the run's snapshot no longer
waits on that node. A 404 while the run still waits there means "not answered here", and the gate stays open.
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
from .gates import gate_from_interrupt, vote_counts, with_votes
from .resume import alternative_answers

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
_GONE = "This gate is no longer open: it was already answered, or the run was cancelled."
_WAITING = ("waiting-approval", "waiting-input", "waiting-external", "suspended")


def _with_correlation(value: Any, correlation: object) -> Any:
    """`value` carrying every correlation key of the interrupt (a token resolve without them is 422)."""
    if not isinstance(correlation, dict) or not isinstance(value, dict):
        return value
    answer = cast(dict[str, Any], value)
    keys = cast(dict[str, Any], correlation)
    return {**{k: v for k, v in keys.items() if k not in answer}, **answer}


def _refused(exc: BackendError) -> GateError:
    """The host refused the answer itself: the gate stays open, with the host's reason."""
    code = f" ({exc.code})" if exc.code else ""
    return GateError(
        sentences(f"The host rejected the answer{code}: {exc.message}", "The gate stays open: answer it again")
    )


class _NotHere(Exception):
    """A 404 from a resolve: the gate may be gone, or not answerable on that path."""

    def __init__(self, exc: NotFoundError) -> None:
        super().__init__(exc.message)
        self.exc = exc


class Resolver:
    """Answers gates for one adapter, through its request function (`call`) and run snapshots (`get_run`)."""

    def __init__(self, call: Call, get_run: GetRun) -> None:
        self._call = call
        self._get_run = get_run

    async def resolve(self, gate: Gate, value: Any) -> dict[str, Any]:
        """`{"resolved": True, "response": …}`; with `"pending": True` and the gate as it now stands (`"gate"`) when
        the host took the answer but still waits on the same interrupt (a quorum that needs more votes)."""
        node = str(gate.resume.get("node_id") or (gate.step.id if gate.step else ""))
        token = gate.resume.get("token")
        if token and (gate.resume.get("interrupt_kind") == "external-event" or not node):
            return await self._via_token(gate, value, str(token))
        if not node:
            raise GateError(_NO_ADDRESS)
        try:
            doc = await self._run_scoped(gate, node, value)
        except AuthError as exc:
            if exc.status != 403:
                raise
            if not token:
                raise GateError(_NO_SCOPE) from None
            log.info("run-scoped resolve refused (403); answering gate %s with its interrupt token", gate.gate_id)
            return await self._via_token(gate, value, str(token))
        except _NotHere as missing:
            current = await self._still_open(gate)
            fresh = current.resume.get("token") if current is not None else None
            if current is not None and fresh:
                log.info("run-scoped resolve answered 404 while the run waits; trying gate %s's token", gate.gate_id)
                return await self._via_token(gate, value, str(fresh))
            raise self._missing(current, missing.exc) from None
        return self._outcome(gate, doc)

    async def _via_token(self, gate: Gate, value: Any, token: str) -> dict[str, Any]:
        doc = await self._by_token(gate, value, token, refreshed=False)
        return {**self._outcome(gate, doc), "via": "token"}

    def _outcome(self, gate: Gate, doc: dict[str, Any]) -> dict[str, Any]:
        outcome: dict[str, Any] = {"resolved": True, "response": doc}
        interrupt = doc.get("interrupt")
        if (
            isinstance(interrupt, dict)
            and "outcome" not in interrupt
            and str(doc.get("status")) in _WAITING
            and "votes" in interrupt
        ):
            votes = cast(dict[str, Any], interrupt)["votes"]
            updated = with_votes(gate, votes)
            accepts, _ = vote_counts(votes)
            required = gate.resume.get("required_approvals")
            counted = f"{accepts} of {required} approvals" if isinstance(required, int) else f"{accepts} approvals"
            outcome.update(pending=True, gate=updated, note=f"vote recorded ({counted}); the host waits for more")
        return outcome

    def _missing(self, current: Gate | None, exc: NotFoundError) -> GateError:
        if current is None:
            return GateError(_GONE, closed=True)
        return GateError(
            sentences(
                f"The host answered HTTP {exc.status} ({exc.code or 'not found'}: {exc.message}) although the run "
                "still waits on this gate",
                "The gate stays open; answer it again, or in the host's own UI",
            )
        )

    async def _still_open(self, gate: Gate) -> Gate | None:
        """The gate as the run's snapshot shows it now, when the run still waits on the same node; None when the host
        says the run has moved on or is gone. A snapshot that cannot be read leaves the gate as it was."""
        try:
            run = await self._get_run(gate.run_id)
        except NotFoundError:
            return None
        except RunbridgeError:
            return gate
        current = run.open_gate
        # Interrupts are addressed by node (docs/backends/openwop.md): the same node still waiting is the same gate,
        # even on a host whose snapshot names the interrupt differently from its events.
        if current is None or current.resume.get("node_id") != gate.resume.get("node_id"):
            return None
        return current

    async def _run_scoped(self, gate: Gate, node: str, value: Any, *, retried: bool = False) -> dict[str, Any]:
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
            if exc.status == 410:
                raise GateError("The gate expired; it can no longer be answered.", closed=True) from None
            raise _NotHere(exc) from None
        except ConflictError:
            raise GateError("This gate was already answered.", closed=True) from None
        except BackendError as exc:
            if exc.status in (410, 422) and exc.code in ("interrupt_cancelled", "interrupt_expired"):
                raise GateError(
                    "The run was cancelled or the gate expired; it can no longer be answered.", closed=True
                ) from None
            if exc.status in (400, 422):
                other = None if retried else alternative_answers(gate, value)
                if other is not None:
                    log.info("the host refused the answers' shape (%s); sending them in the other shape", exc.code)
                    return await self._run_scoped(gate, node, other, retried=True)
                raise _refused(exc) from None
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
            current = await self._still_open(gate)
            fresh = current.resume.get("token") if current is not None else None
            if not refreshed and fresh and fresh != token:
                return await self._by_token(gate, value, str(fresh), refreshed=True)
            if exc.status == 410:  # gone, and the run offers no other token for it
                raise GateError(
                    "This gate expired: its interrupt token is no longer valid and the run offers no new one.",
                    closed=True,
                ) from None
            raise self._missing(current, exc) from None
        except BadRequestError as exc:
            raise _refused(exc) from None
        return cast(dict[str, Any], doc) if isinstance(doc, dict) else {}

    async def describe(self, gate: Gate, payload: dict[str, Any], node_id: str | None) -> Gate | None:
        """`gate` with what it asks, for an event that said only ids and the token: from inspecting the token, else
        from the run's snapshot while it waits on the same node; None when neither says more."""
        token = gate.resume.get("token")
        found = await self.inspect(str(token)) if token else None
        if found is not None:
            filled = gate_from_interrupt({**found, **payload}, run_id=gate.run_id, node_id=node_id, step=gate.step)
            return filled.model_copy(update={"gate_id": gate.gate_id})
        current = await self._still_open(gate)
        if current is None or current is gate or current.resume.get("answers_shape") == "unknown":
            return None
        return current.model_copy(
            update={"gate_id": gate.gate_id, "step": gate.step, "resume": {**gate.resume, **current.resume}}
        )

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
