"""The ways real OpenWOP hosts disagree on the wire (docs/backends/openwop.md), as one settings record per host.

A bridge must accept all of them, so the sandbox can speak each. `VARIANTS` holds named presets that together use
every value of every knob; `resolve_variant` turns a name, a preset or a dict of overrides into a `HostVariant`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

__all__ = ["VARIANTS", "HostVariant", "resolve_variant"]


@dataclass(frozen=True)
class HostVariant:
    """One host's wire habits.

    * `seq_field`: a streamed event's sequence key, `sequence` or `seq`; `payload_field`: `payload` or `data` (the
      poll says `sequence`/`payload` on every host).
    * `first_seq`: the first event's sequence, 0 or 1 (the `id:` line and Last-Event-ID use the same numbers).
    * `events_url`: `eventsUrl`/`statusUrl` absolute (`http://host/v1/...`) or relative (`/v1/...`), or `none`: the
      create answer and the snapshot carry no links at all (a client writes the paths itself).
    * `require_accept`: the events endpoint answers 406 unless the request says `Accept: text/event-stream`.
    * `resolve_response`: `run_node_status` → `{runId, nodeId, status}` with the status *before* the resume;
      `interrupt_outcome` → `{runId, status, interrupt: {nodeId, interruptId, outcome, votes}}`.
    * `already_resolved_status`: a second resolve answers 404 `interrupt_not_found` or 409
      `interrupt_already_resolved`; `cancelled_gate_status`: resolving after a cancel answers 404
      `interrupt_not_found` or 422 `interrupt_cancelled`.
    * `emit_node_suspended`: follow `interrupt.requested` with `node.suspended`.
    * `discovery_says_fork`: what discovery claims about fork (fork works either way, as on the real host, unless
      `fork_refusal` says how this host refuses it).
    * `fork_refusal`: None (fork works), or how a host without fork answers `POST /v1/runs/{id}:fork`: 404
      `not_found` (no such route), 405 `method_not_allowed` (the path matched the run's own route), 501
      `not_implemented`, or 422 `capability_not_provided` (the v2 registry's code).
    * `keepalive_seconds`: interval of `:keepalive` comments while nothing happens.
    * `node_started_in_updates`: `node.started` in the default `updates` stream mode (True: a client can show
      "step 2/5" from the default stream) or only with `?streamMode=debug`, as the spec says.
    * `expose_interrupt_token`: put a signed `interruptToken` (and `callbackUrl`) on interrupts.
    * `discovery`: `/.well-known/openwop` answers the `full` document, a `partial` one (a protocol version only),
      404 (`missing`) or 503 (`unavailable`); `max_event_bytes` adds `limits.maxEventBytes` to the full document.
    * `events_stream`: `sse`; or the events endpoint cannot be streamed, as behind some proxies and on hosts without
      SSE: 404, 405 or 406 always, or `html` (200 with a page that is not an event stream). The poll still works.
    * `event_poll`: False when the host has no poll endpoint (404; discovery says `eventPoll: false`).
    * `key_can_respond`: False when the sandbox key lacks the `approvals:respond` scope (403 on run-scoped resolves;
      the token surface still works).
    * `interrupt_event_data`: False when interrupt events carry ids and the token but no `data` (inspect the token
      to learn the question).
    * `interrupt_config`: interrupts as the SQLite reference host shows them: what a node asks under `config` on
      its events and under `payload.config` on snapshots (not `data`); a clarification answered only as
      `{answers: {id: "string"}}` (422 otherwise); an external event answered only through its token (the
      run-scoped path answers 404 `interrupt_not_found`).
    * `protocol_versions`: the protocol versions served, `1.0` (`/v1` paths), `2.0` (bare paths and the
      `OpenWOP-Version: 2.0` header on every request; a missing or other major is 406 `protocol_version_unsupported`)
      or both; discovery lists them (`protocolVersions`, `preferredVersion`; a v1-only host says `protocolVersion`).
    * `describe_route`: False when the host has no `GET /v1/workflows/{id}` (404 `not_found`, "no route"), as the
      in-memory reference host; it runs the same workflow ids all the same.
    * `fork_needs_seq`: the host forks only from a given event: a fork without `fromSeq` is 400 `validation_error`.
    * `poll_drops_next`: the poll leaves out the event right after a given cursor (one event missing per page).
    * `emit_interrupt_requested`: False when a host signals a gate only with `node.suspended` (with
      `interrupt_config`, its payload is the node's own `{kind, nodeId, config}` plus the token, if any).
    * `callback_kinds`: which interrupts carry a token (and its callback URL): `all`, or only `external-event` ones.
    * `callback_inspect`: False when the host cannot inspect a token: no `GET /v1/interrupts/{token}` (404
      `not_found`, "no route").
    * `callback_answers`: the token resolve's answers: `spec` (success is `{}`; 401 for a token the host never
      signed, 409 once used, 410 once expired) or `run_node_status` (`{runId, nodeId, status}`, the status after the
      resume; 404 `interrupt_not_found` for an unknown, used or expired token).
    * `poll_body`: the v1 poll's answer, `spec` (`{events, isComplete}`) or `run_status` (`{runId, events,
      lastEventSeq, runStatus, isTerminal}`: no `isComplete`).
    * `resolved_event`: the event that says a gate was answered: `interrupt.resolved`, or `node.resumed` carrying
      what was answered.
    * `twin_fields`: every event (stream and poll) spelled both ways, `seq` and `sequence`, `data` and `payload`,
      with `nodeId` even when null and no `schemaVersion`/`engineVersion` (v1 only; overrides the two fields).
    """

    name: str = "reference"
    seq_field: Literal["sequence", "seq"] = "sequence"
    payload_field: Literal["payload", "data"] = "payload"
    first_seq: Literal[0, 1] = 0
    events_url: Literal["absolute", "relative", "none"] = "absolute"
    require_accept: bool = False
    resolve_response: Literal["run_node_status", "interrupt_outcome"] = "run_node_status"
    already_resolved_status: Literal[404, 409] = 409
    cancelled_gate_status: Literal[404, 422] = 404
    emit_node_suspended: bool = True
    discovery_says_fork: bool = False
    fork_refusal: Literal[404, 405, 422, 501] | None = None
    keepalive_seconds: float = 15.0
    node_started_in_updates: bool = True
    expose_interrupt_token: bool = True
    discovery: Literal["full", "partial", "missing", "unavailable"] = "full"
    max_event_bytes: int | None = None
    events_stream: Literal["sse", "404", "405", "406", "html"] = "sse"
    event_poll: bool = True
    key_can_respond: bool = True
    interrupt_event_data: bool = True
    interrupt_config: bool = False
    protocol_versions: tuple[str, ...] = ("1.0",)
    describe_route: bool = True
    fork_needs_seq: bool = False
    poll_drops_next: bool = False
    emit_interrupt_requested: bool = True
    callback_kinds: Literal["all", "external-event"] = "all"
    callback_inspect: bool = True
    callback_answers: Literal["spec", "run_node_status"] = "spec"
    poll_body: Literal["spec", "run_status"] = "spec"
    resolved_event: Literal["interrupt.resolved", "node.resumed"] = "interrupt.resolved"
    twin_fields: bool = False

    def __post_init__(self) -> None:
        versions = tuple(self.protocol_versions)
        if not versions or not set(versions) <= {"1.0", "2.0"}:
            raise ValueError(f"protocol_versions must be one or both of '1.0' and '2.0', not {versions!r}")
        object.__setattr__(self, "protocol_versions", tuple(sorted(set(versions))))

    def gives_token(self, wire_kind: str) -> bool:
        """Whether an interrupt of this OpenWOP kind carries a token on this host."""
        return self.expose_interrupt_token and (self.callback_kinds == "all" or wire_kind == "external-event")


VARIANTS: dict[str, HostVariant] = {
    "reference": HostVariant(),
    # As the official 1.1.1 client reads the real Python reference host: `sequence`/`payload` from 0, no links in its
    # answers (1.1.1 cannot create a run there: it requires `eventsUrl`), SSE only with the Accept header, no fork
    # route. It has no interrupts; those settings here are for gates on a host that spells them its way.
    "python-host": HostVariant(
        name="python-host",
        events_url="none",
        require_accept=True,
        fork_refusal=404,
        resolve_response="interrupt_outcome",
        already_resolved_status=404,
        emit_node_suspended=False,
        expose_interrupt_token=False,
    ),
    # As the real in-memory reference host: streamed events spelled `seq`/`data` (1.1.1 drops every one of them;
    # its poll says `sequence`/`payload`, as every host's does), relative links, no workflow-describe route.
    "in-memory-host": HostVariant(
        name="in-memory-host",
        seq_field="seq",
        payload_field="data",
        events_url="relative",
        describe_route=False,
    ),
    # As the real SQLite reference host: events from sequence 0, relative links, no fork route (404), which its
    # discovery does not offer either; a gate signalled only by `node.suspended` with the node's `config`, a token
    # for external events only (answered `{runId, nodeId, status}`, never inspected), `node.resumed` once answered,
    # a poll that says `lastEventSeq`, `runStatus` and `isTerminal`, and events spelled both ways.
    "sqlite-host": HostVariant(
        name="sqlite-host",
        events_url="relative",
        resolve_response="interrupt_outcome",
        already_resolved_status=404,
        fork_refusal=404,
        interrupt_config=True,
        emit_interrupt_requested=False,
        callback_kinds="external-event",
        callback_inspect=False,
        callback_answers="run_node_status",
        poll_body="run_status",
        resolved_event="node.resumed",
        twin_fields=True,
    ),
    "v2-host": HostVariant(name="v2-host", protocol_versions=("2.0",)),
    # A host whose discovery claims fork (and which forks).
    "dual-host": HostVariant(name="dual-host", protocol_versions=("1.0", "2.0"), discovery_says_fork=True),
    # A host that keeps to the letter of the spec; it numbers events from 1 (the spec leaves the first number open,
    # and none of the reference hosts here does).
    "strict-spec": HostVariant(
        name="strict-spec",
        first_seq=1,
        require_accept=True,
        cancelled_gate_status=422,
        node_started_in_updates=False,
        discovery="partial",
    ),
}


def resolve_variant(variant: str | HostVariant | Mapping[str, Any] | None = None, **overrides: Any) -> HostVariant:
    """A preset by name, a `HostVariant`, or a dict (optionally with `"base": "<preset>"`), plus overrides."""
    if variant is None:
        base = VARIANTS["reference"]
    elif isinstance(variant, HostVariant):
        base = variant
    elif isinstance(variant, str):
        if variant not in VARIANTS:
            raise ValueError(f"unknown OpenWOP variant {variant!r}; known: {', '.join(VARIANTS)}")
        base = VARIANTS[variant]
    else:
        values = dict(variant)
        base = resolve_variant(values.pop("base", None))
        overrides = {**values, **overrides}
    known = {f.name for f in fields(HostVariant)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown variant settings: {sorted(unknown)}")
    return replace(base, **overrides) if overrides else base
