"""Drives an OpenWOP host with the official Python client, `openwop-client` 1.x (v1) or 2.x (v2), whichever is
installed in the python running this script, through the client's documented flows, and prints what the client
read as one JSON document. Run by tests/real/test_official_openwop.py with the client's own virtual environment;
never imported by the test suite (the client is not installed there).

Usage: `python drive_openwop.py '<plan JSON>'`, the plan being
`{"base_url": ..., "api_key": ..., "flows": [{"name": ..., "flow": "<flow>", ...settings}]}`. Each flow's result is
under its name; a flow the client cannot finish records where it stopped and why (`failed`: the step, `error`: the
exception's type and message, `status`/`code` for a WopError) and the other flows still run.

Flows:
- `discovery`: what the client reads of `/.well-known/openwop`.
- `gate`: create a run of `workflow`, stream its events until the interrupt, read the run, resolve the interrupt
  (`resolve: "run"` per run and node, or `"token"` through the interrupt token, inspecting it first) with `resume`,
  stream on from the last event to the end, read the run again, poll its whole log, and fork it when `fork` is set
  (a refused fork is recorded, not a failure of the flow).
- `run`: create a run of `workflow`, stream its events to the end, read the run, poll its whole log.
- `errors`: what the client reads of refusals: an unknown run, an unknown workflow, a resolve with no gate open.
- `pause` (2.x only; 1.x has no pause): create a run of `workflow`, stream until the gate, pause it, read it,
  resume it, resume it again (refused: not paused), then cancel it.
- `cancel`: create a run of `workflow`, stream until an event of a type in `until`, cancel, read the run, stream its log
  again to its end, and try to resolve its interrupt (when it had one) after the cancel.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import openwop_client as ow
from flow_steps import Stop, step

V2 = ow.__version__.startswith("2.")
TERMINAL = {"run.completed", "run.failed", "run.cancelled"}
# The event that says a run waits at a gate: `interrupt.requested` (the spec), or only `node.suspended` (the
# SQLite reference host).
GATE = ("interrupt.requested", "node.suspended")


def described(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"[:600]}
    if isinstance(exc, ow.WopError):
        out["status"] = exc.status
        out["code"] = exc.envelope.error if exc.envelope else None
    if isinstance(exc, KeyError | TypeError | ValueError):
        out["where"] = traceback.format_exception(exc)[-2].strip()[:300]
    return out


def client(plan: dict[str, Any]) -> Any:
    return ow.OpenwopClient(base_url=plan["base_url"], api_key=plan["api_key"], timeout=15)


def stream(c: Any, run_id: str, *, until: tuple[str, ...] = (), after: int | None = None) -> list[Any]:
    """Events from the SSE stream until an event of a type in `until`, or the run's end."""
    kwargs: dict[str, Any] = {"timeout_seconds": 15}
    if after is not None:
        kwargs["last_event_id"] = str(after)
    events = []
    for event in c.runs_events(run_id, **kwargs):
        events.append(event)
        if event.type in until or event.type in TERMINAL:
            break
    return events


def seen(events: list[Any]) -> dict[str, Any]:
    return {"types": [e.type for e in events], "sequences": [e.sequence for e in events]}


def snapshot(c: Any, run_id: str) -> dict[str, Any]:
    snap = c.runs_get(run_id)
    out: dict[str, Any] = {"status": snap.status, "workflowId": snap.workflowId, "currentNodeId": snap.currentNodeId}
    if V2:
        out["owner_tenant"] = snap.owner.tenant
        out["interrupt"] = snap.interrupt
        out["engineVersion"] = snap.engineVersion
    return out


def poll_all(c: Any, run_id: str) -> dict[str, Any]:
    """The run's whole log through the poll endpoint, page after page."""
    sequences: list[int] = []
    cursor: int | None = None
    for _ in range(20):
        if V2:
            page = c.runs_poll_events(run_id, after_sequence=cursor, timeout_seconds=1)
            done, cursor = page.isTerminal, page.lastSequence
        else:
            page = c.runs_poll_events(run_id, last_sequence=cursor, timeout_seconds=1)
            done = page.isComplete
            cursor = page.events[-1].sequence if page.events else cursor
        sequences += [e.sequence for e in page.events]
        ended = any(e.type in TERMINAL for e in page.events)
        if done or ended:  # a host whose page never says complete still ends the log with a terminal event
            break
    return {"sequences": sequences, "complete": done}


def discovery(c: Any, flow: dict[str, Any]) -> dict[str, Any]:
    caps = step("discovery", c.discovery_capabilities)
    if V2:
        families = {k: {"status": r.status, **r.facets} for k, r in caps.families.items()}
        return {
            "preferredVersion": caps.preferredVersion,
            "protocolVersions": caps.protocolVersions,
            "families": families,
        }
    return {"protocolVersion": caps.protocolVersion, "limits": vars(caps.limits)}


def gate(c: Any, flow: dict[str, Any], out: dict[str, Any]) -> None:
    created = step("create", c.runs_create, ow.CreateRunRequest(workflowId=flow["workflow"], inputs=flow.get("inputs")))
    run_id = out["run_id"] = created.runId
    out["created_status"] = created.status
    before = step("stream", stream, c, run_id, until=GATE)
    out["stream_to_gate"] = seen(before)
    asked = next((e for e in before if e.type in GATE), None)
    if asked is None:
        raise Stop("stream", RuntimeError("the stream ended before the run waited at a gate"))
    payload = asked.payload or {}
    out["interrupt"] = {"kind": payload.get("kind"), "nodeId": payload.get("nodeId") or asked.nodeId}
    out["snapshot_at_gate"] = step("get", snapshot, c, run_id)
    body = ow.ResolveInterruptRequest(resumeValue=flow["resume"])
    if flow.get("resolve", "run") == "token":
        token = payload.get("interruptToken")
        if not token:
            raise Stop("token", RuntimeError("interrupt.requested carried no interruptToken"))
        try:  # not every host can inspect a token (the SQLite reference host has no GET for it)
            inspected = c.interrupts_inspect_by_token(token)
            out["inspected"] = {"kind": inspected.kind, "key": inspected.key, "data": inspected.data}
        except Exception as exc:
            out["inspected"] = described(exc)
        out["resolved"] = step("resolve", c.interrupts_resolve_by_token, token, body)
    else:
        answer = step("resolve", c.interrupts_resolve_by_run, run_id, out["interrupt"]["nodeId"], body)
        out["resolved"] = {"runId": answer.runId, "nodeId": answer.nodeId, "status": answer.status}
    after = step("stream_on", stream, c, run_id, after=before[-1].sequence)
    out["stream_after_gate"] = seen(after)
    out["snapshot_at_end"] = step("get_end", snapshot, c, run_id)
    out["poll"] = step("poll", poll_all, c, run_id)
    if flow.get("fork"):  # recorded either way: not every host forks
        try:
            fork = c.runs_fork(run_id, ow.ForkRunRequest(fromSeq=before[0].sequence, mode="branch"))
            out["fork"] = {"runId": fork.runId, "sourceRunId": fork.sourceRunId, "status": fork.status}
        except Exception as exc:
            out["fork"] = described(exc)


def run(c: Any, flow: dict[str, Any], out: dict[str, Any]) -> None:
    created = step("create", c.runs_create, ow.CreateRunRequest(workflowId=flow["workflow"], inputs=flow.get("inputs")))
    run_id = out["run_id"] = created.runId
    out["stream"] = seen(step("stream", stream, c, run_id))
    out["snapshot"] = step("get", snapshot, c, run_id)
    out["poll"] = step("poll", poll_all, c, run_id)


def refused(call: Any, *args: Any) -> dict[str, Any]:
    try:
        call(*args)
    except ow.WopError as exc:
        return described(exc) | {"message": exc.envelope.message if exc.envelope else None}
    return {"accepted": True}


def errors(c: Any, flow: dict[str, Any], out: dict[str, Any]) -> None:
    out["unknown_run"] = refused(c.runs_get, "run_does_not_exist")
    out["unknown_workflow"] = refused(c.runs_create, ow.CreateRunRequest(workflowId="no-such-workflow"))
    done = step("create", c.runs_create, ow.CreateRunRequest(workflowId=flow["workflow"]))
    step("stream", stream, c, done.runId)
    body = ow.ResolveInterruptRequest(resumeValue={"action": "accept"})
    out["no_gate"] = refused(c.interrupts_resolve_by_run, done.runId, "no-such-node", body)


def pause(c: Any, flow: dict[str, Any], out: dict[str, Any]) -> None:
    if not V2:
        out["unsupported"] = "openwop-client 1.x has no runs_pause"
        return
    created = step("create", c.runs_create, ow.CreateRunRequest(workflowId=flow["workflow"]))
    run_id = out["run_id"] = created.runId
    step("stream", stream, c, run_id, until=GATE)
    paused = step("pause", c.runs_pause, run_id)
    out["paused"] = {"runId": paused.runId, "status": paused.status, "pausedAt": paused.pausedAt}
    out["snapshot_paused"] = step("get", snapshot, c, run_id)
    resumed = step("resume", c.runs_resume, run_id)
    out["resumed"] = {"runId": resumed.runId, "status": resumed.status, "resumedAt": resumed.resumedAt}
    out["resume_again"] = refused(c.runs_resume, run_id)
    step("cancel", c.runs_cancel, run_id)


def cancel(c: Any, flow: dict[str, Any], out: dict[str, Any]) -> None:
    created = step("create", c.runs_create, ow.CreateRunRequest(workflowId=flow["workflow"], inputs=flow.get("inputs")))
    run_id = out["run_id"] = created.runId
    before = step("stream", stream, c, run_id, until=tuple(flow["until"]))
    out["stream_before"] = seen(before)
    cancelled = step("cancel", c.runs_cancel, run_id, ow.CancelRunRequest(reason="the official client cancels"))
    out["cancelled"] = {"runId": cancelled.runId, "status": cancelled.status}
    out["snapshot"] = step("get", snapshot, c, run_id)
    out["stream_all"] = seen(step("stream_all", stream, c, run_id))
    asked = next((e for e in before if e.type in GATE), None)
    if asked is not None:
        node = (asked.payload or {}).get("nodeId") or asked.nodeId
        try:
            c.interrupts_resolve_by_run(run_id, node, ow.ResolveInterruptRequest(resumeValue={"action": "accept"}))
            out["resolve_after_cancel"] = {"accepted": True}
        except ow.WopError as exc:
            out["resolve_after_cancel"] = described(exc)


def main() -> None:
    plan = json.loads(sys.argv[1])
    c = client(plan)
    results: dict[str, Any] = {"client": ow.__version__}
    for flow in plan["flows"]:
        print(f"flow {flow['name']}", file=sys.stderr, flush=True)
        out: dict[str, Any] = {}
        try:
            if flow["flow"] == "discovery":
                out.update(discovery(c, flow))
            elif flow["flow"] == "gate":
                gate(c, flow, out)
            elif flow["flow"] == "run":
                run(c, flow, out)
            elif flow["flow"] == "errors":
                errors(c, flow, out)
            elif flow["flow"] == "pause":
                pause(c, flow, out)
            elif flow["flow"] == "cancel":
                cancel(c, flow, out)
            else:
                raise Stop("plan", ValueError(f"unknown flow {flow['flow']!r}"))
        except Stop as stop:
            out["failed"] = stop.step
            out.update(described(stop.exc))
        results[flow["name"]] = out
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
