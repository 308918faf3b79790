"""The orchagent REST endpoints (docs/backends/orchagent.md): auth, meta, threads, messages, resume and approvals.

Errors are FastAPI-shaped (`{"detail": "..."}`, validation errors as a list), as the SDK only reads the status.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from ..errors import EngineError
from .state import Approval, OrchagentState, RunInfo, ThreadRecord, deep_merge

__all__ = ["ALLOWED_GATES", "Routes"]

ALLOWED_GATES = frozenset({"auth", "tool_approval"})
_MAX_HISTORY = 1000


class _Invalid(Exception):
    """A request this server refuses; becomes `{"detail": ...}` with `status`."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


def _missing(field: str) -> _Invalid:
    return _Invalid(422, [{"loc": ["body", field], "msg": "Field required", "type": "missing"}])


def _wrong(field: str, msg: str) -> _Invalid:
    return _Invalid(422, [{"loc": ["body", field], "msg": msg, "type": "value_error"}])


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise _Invalid(422, [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}]) from None
    if not isinstance(doc, dict):
        raise _Invalid(422, [{"loc": ["body"], "msg": "Input should be an object", "type": "dict_type"}])
    return cast(dict[str, Any], doc)


def _text(doc: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = doc.get(field)
    if value is None:
        if required:
            raise _missing(field)
        return None
    if not isinstance(value, str) or not value:
        raise _wrong(field, "Input should be a non-empty string")
    return value


def _object(doc: dict[str, Any], field: str) -> dict[str, Any]:
    value = doc.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong(field, "Input should be an object")
    return cast(dict[str, Any], value)


Handler = Callable[["Routes", Request], Awaitable[Response]]


def _handled(handler: Handler) -> Handler:
    """Refusals become FastAPI-shaped answers; an engine refusal (a gate answered meanwhile) is a 409."""

    async def call(self: Routes, request: Request) -> Response:
        try:
            return await handler(self, request)
        except _Invalid as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        except EngineError as exc:
            return JSONResponse({"detail": exc.message}, status_code=409)

    return call


class Routes:
    """Handlers bound to one app's state. `request.state.user` is set by the guard on every protected path."""

    def __init__(self, state: OrchagentState) -> None:
        self.s = state

    # -- auth and meta -------------------------------------------------------------------------------------------

    @_handled
    async def register(self, request: Request) -> Response:
        doc = await _body(request)
        email, password = _text(doc, "email"), _text(doc, "password")
        assert email is not None
        assert password is not None
        if "@" not in email:
            raise _wrong("email", "value is not a valid email address")
        if email.lower() in self.s.users:
            raise _Invalid(409, "Email already registered")
        user = self.s.register(email, password, _text(doc, "profile", required=False))
        return JSONResponse({"access_token": self.s.issue_token(user), "token_type": "bearer"})

    @_handled
    async def login(self, request: Request) -> Response:
        doc = await _body(request)
        email, password = _text(doc, "email"), _text(doc, "password")
        assert email is not None
        assert password is not None
        user = self.s.users.get(email.lower())
        if user is None or not user.check(password):
            raise _Invalid(401, "Invalid email or password")
        return JSONResponse({"access_token": self.s.issue_token(user), "token_type": "bearer"})

    async def meta(self, request: Request) -> Response:
        return JSONResponse(
            {
                "name": "orchagent",
                "server": "runbridge sandbox",
                "version": "0.1.3-sandbox",
                "variant": self.s.variant.name,
                "deprecations": [
                    {
                        "name": "history-limit-over-1000",
                        "message": "GET /threads/{id}/history accepts limit up to 1000.",
                        "sunset": "2027-01-01",
                    }
                ],
            }
        )

    async def oauth(self, request: Request) -> Response:
        """Where `auth.required` sends the human: a stand-in for the provider's consent page."""
        self.s.ctx.stats.incr("oauth_visits")
        return HTMLResponse("<p>Access granted (runbridge sandbox). Return to your assistant and confirm.</p>")

    # -- threads ---------------------------------------------------------------------------------------------------

    def _thread(self, request: Request) -> ThreadRecord:
        thread = self.s.threads.get(request.path_params["thread_id"])
        if thread is None or thread.owner != request.state.user:
            raise _Invalid(404, "Thread not found")
        return thread

    def _run(self, request: Request) -> RunInfo:
        info = self.s.runs.get(request.path_params["run_id"])
        if info is None or info.owner != request.state.user:
            raise _Invalid(404, "Run not found")
        return info

    @_handled
    async def create_thread(self, request: Request) -> Response:
        spec = await _body(request)
        workflow_id = spec.get("workflow", "chat")
        workflow = self.s.engine.workflows.get(workflow_id) if isinstance(workflow_id, str) else None
        if workflow is None:
            known = ", ".join(sorted(w.id for w in self.s.engine.workflows.values() if w.listed("orchagent")))
            raise _wrong("workflow", f"Unknown workflow {workflow_id!r}; this server runs: {known}")
        kinds = {s.gate.kind for s in workflow.steps if s.gate is not None}
        if not kinds <= ALLOWED_GATES:
            raise _wrong("workflow", f"Workflow {workflow_id!r} has gates an orchagent thread cannot pass")
        thread = ThreadRecord(
            self.s.next_id("th"), request.state.user, workflow.id, spec, workflow_secrets=_object(spec, "secrets")
        )
        self.s.threads[thread.thread_id] = thread
        return JSONResponse({"id": thread.thread_id, "workflow": workflow.id})

    @_handled
    async def set_secrets(self, request: Request) -> Response:
        thread = self._thread(request)
        doc = await _body(request)
        if "secrets" not in doc:
            raise _missing("secrets")
        thread.secrets = deep_merge(thread.secrets, _object(doc, "secrets"))
        return JSONResponse({"ok": True})

    @_handled
    async def history(self, request: Request) -> Response:
        thread = self._thread(request)
        raw = request.query_params.get("limit", "20")
        if not raw.isdigit() or not 1 <= int(raw) <= _MAX_HISTORY:
            detail = [{"loc": ["query", "limit"], "msg": f"limit must be 1..{_MAX_HISTORY}", "type": "value_error"}]
            raise _Invalid(422, detail)
        # The latest `limit` messages, oldest first (a chat window).
        return JSONResponse({"items": self.s.history(thread)[-int(raw) :]})

    @_handled
    async def send_message(self, request: Request) -> Response:
        thread = self._thread(request)
        doc = await _body(request)
        prompt = _text(doc, "user_prompt")
        assert prompt is not None
        inputs, run_secrets = _object(doc, "inputs"), _object(doc, "secrets")
        run = self.s.engine.start_run(thread.workflow_id, inputs, meta={"thread_id": thread.thread_id})
        merged = deep_merge(thread.workflow_secrets, thread.secrets, run_secrets)
        self.s.runs[run.id] = RunInfo(run.id, thread.thread_id, thread.owner, prompt, run.created_at, merged)
        thread.run_ids.append(run.id)
        return JSONResponse({"run_id": run.id})

    # -- runs and approvals ----------------------------------------------------------------------------------------

    @_handled
    async def resume(self, request: Request) -> Response:
        info = self._run(request)
        await _body(request)
        run = self.s.engine.get_run(info.run_id)
        gate = run.gate
        if gate is None:
            raise _Invalid(409, f"Run is not waiting (status {run.status})")
        if gate.spec.kind == "auth":
            self.s.engine.answer_gate(run.id, gate.node_id, {"authorized": True})
            return JSONResponse({"ok": True, "run_id": run.id, "resumed": "auth"})
        artifact = gate.spec.artifact or {}
        server, tool = str(artifact.get("server") or "mcp"), str(artifact.get("tool") or gate.node_id)
        approved = self.s.approved(run.id, server, tool)
        # Resuming without an approval goes on without the tool: this sandbox then ends the run with an error.
        self.s.engine.answer_gate(run.id, gate.node_id, {"action": "approve" if approved else "deny"})
        return JSONResponse({"ok": True, "run_id": run.id, "resumed": "tool_approval", "approved": approved})

    @_handled
    async def approve(self, request: Request) -> Response:
        info = self._run(request)
        doc = await _body(request)
        tool = _text(doc, "tool")
        server = _text(doc, "server", required=False) or "mcp"
        keys = doc.get("args_keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise _wrong("args_keys", "Input should be a list of strings")
        assert tool is not None
        approval = Approval(info.run_id, server, tool, tuple(cast(list[str], keys)), request.state.user)
        self.s.approvals.append(approval)
        return JSONResponse({"ok": True, "run_id": info.run_id, "server": server, "tool": tool, "args_keys": keys})

    @_handled
    async def clear(self, request: Request) -> Response:
        doc = await _body(request)
        everything = doc.get("all") is True
        user_id = _text(doc, "user_id", required=False)
        who = user_id or request.state.user
        keep = [] if everything else [a for a in self.s.approvals if a.user_id != who]
        cleared = len(self.s.approvals) - len(keep)
        self.s.approvals = keep
        return JSONResponse({"ok": True, "cleared": cleared})
