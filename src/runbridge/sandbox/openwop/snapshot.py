"""RunSnapshot (`GET /v1/runs/{id}`; in v2 also `owner` and an integer `engineVersion`), interrupt objects and
workflow definitions (docs/backends/openwop.md)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from starlette.requests import Request

from ..gates import gate_payload
from ..model import Workflow
from ..runs import RunRecord
from .docs import interrupt_data, type_id, wire_kind
from .state import OpenWopState
from .versions import v1_path, wire_version

__all__ = ["interrupt_object", "run_owner", "run_snapshot", "workflow_definition"]


def interrupt_object(state: OpenWopState, request: Request, run: RunRecord) -> dict[str, Any] | None:
    """The open gate as hosts show it on a snapshot: kind, nodeId, interruptId, key, data (+ token, callback)."""
    gate = run.gate
    if gate is None:
        return None
    payload = gate_payload(gate)
    kind = wire_kind(gate.spec.kind)
    out: dict[str, Any] = {"kind": kind, "nodeId": gate.node_id}
    if state.variant.interrupt_config:
        # The SQLite host wraps the node's own payload, `{kind, nodeId, config}`; no interrupt id, key or times.
        out["payload"] = {"kind": kind, "nodeId": gate.node_id, "config": interrupt_data(payload)}
    else:
        out |= {"interruptId": gate.interrupt_id, "key": gate.key, "data": interrupt_data(payload)}
        out["requestedAt"] = gate.requested_at
        if gate.spec.timeout_ms is not None:
            out["timeoutMs"] = gate.spec.timeout_ms
    if state.variant.gives_token(kind):
        token = state.mint(run.id, gate.node_id, gate.interrupt_id, gate.spec.timeout_ms)
        out["interruptToken"] = token
        callback = f"/v1/interrupts/{token}"
        # The SQLite host writes it as it writes every link (relative); the others absolute.
        absolute = str(request.base_url).rstrip("/") + v1_path(request.scope, callback)
        out["callbackUrl"] = state.url(request, callback) if state.variant.interrupt_config else absolute
    return out


def run_owner(run: RunRecord) -> dict[str, Any]:
    """v2's required `owner` of a run: its tenant and the subject that started it (here, the sandbox's one key)."""
    tenant = str(run.meta.get("tenantId") or "default")
    subject = {"issuer": "runbridge-sandbox", "subjectId": "sandbox-key", "tenant": tenant, "lane": "default"}
    return {"tenant": tenant, "subject": subject | {"kind": "service", "keyClass": "test"}}


def run_snapshot(state: OpenWopState, request: Request, run: RunRecord) -> dict[str, Any]:
    """The RunSnapshot document of a run, as the variant spells links."""
    completed = sum(1 for s in run.node_states.values() if s == "completed")
    out: dict[str, Any] = {
        "runId": run.id,
        "workflowId": run.workflow.id,
        "status": run.status,
        "currentNodeId": None if run.finished and run.status == "completed" else run.current_step,
        "startedAt": run.started_at,
        "completedAt": run.completed_at,
        "nodeStates": {node: {"status": status} for node, status in run.node_states.items()},
        "variables": run.variables,
        "channels": {},
        "error": run.error,
        "engineVersion": "1",
        "eventLogSchemaVersion": 2,
        "tags": run.meta.get("tags", []),
        "metadata": run.meta.get("metadata", {}),
        "configurable": run.meta.get("configurable", {}),
        "metrics": {"costUsd": round(run.cost_usd, 6), "completedNodes": completed, "totalNodes": run.step_total},
    }
    if state.variant.events_url != "none":
        out["eventsUrl"] = state.url(request, f"/v1/runs/{run.id}/events")
    if wire_version(request.scope) == 2:
        out["engineVersion"] = 1  # an integer in v2
        out["owner"] = run_owner(run)
    if run.status == "completed":
        out["outputs"] = run.outputs
    interrupt = interrupt_object(state, request, run)
    if interrupt is not None:
        out["interrupt"] = interrupt
    if run.source_run_id is not None:
        out["parentRunId"] = run.source_run_id
        out["fork"] = {"sourceRunId": run.source_run_id, "mode": run.fork_mode}
    return out


def workflow_definition(workflow: Workflow) -> dict[str, Any]:
    """`GET /v1/workflows/{id}`: the nodes in order (ids, type ids, names, 1-based index) and their edges."""
    steps = workflow.steps
    nodes: list[dict[str, Any]] = []
    for i, step in enumerate(steps):
        node: dict[str, Any] = {"nodeId": step.id, "id": step.id, "typeId": type_id(step), "name": step.name}
        node["index"] = i + 1
        if step.gate is not None:
            node["interruptKind"] = wire_kind(step.gate.kind)
        nodes.append(node)
    return {
        "workflowId": workflow.id,
        "id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "version": "1",
        "entryNodeId": steps[0].id if steps else None,
        "nodes": nodes,
        "edges": [{"from": a.id, "to": b.id} for a, b in pairwise(steps)],
    }
