"""The admin toolset: administration of a platform account (`AdminAPI`): schedules and services here; workspaces,
secrets, billing and API keys in `admin_account.py`. Off by default (`[server] toolsets` must name `admin`) and
hidden whole in read-only mode.

Every destructive tool is annotated so and confirmed by the person (`bridge/confirming.py`). What the platform
shows only once (a webhook schedule's URL, a new API key) is a secret: it goes only into the 0600 file the call
names, never to the model or through the client (`bridge/admin_results.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import InputRequiredResult
from pydantic import Field

from ..bridge.admin_results import AdminResult, check_once, hand_over
from ..core.errors import InputError
from . import admin_account
from ._admin import Confirm, Limit, Profile, SecretFile, Workspace, admin_of, confirmed_delete
from ._admin import admin_spec as _spec
from ._spec import app_of

__all__ = ["SPECS"]

ScheduleId = Annotated[str, Field(min_length=1, max_length=200, description="The schedule's id.")]
ServiceId = Annotated[str, Field(min_length=1, max_length=200, description="The service's id.")]
_URL_RULES = (
    ", not even as a URL for the client to open (the MCP specification's URL-mode elicitation rules forbid "
    "credentials in such a URL)"
)

# -- schedules ----------------------------------------------------------------------------------------------------


async def schedules_list(
    ctx: Context[Any, Any],
    agent_name: Annotated[str | None, Field(max_length=200, description="Only this agent's schedules.")] = None,
    schedule_type: Annotated[Literal["cron", "webhook"] | None, Field(description="Only this kind.")] = None,
    limit: Limit = 100,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """List the workspace's schedules (cron and webhook): agent, timing, last run, failures."""
    chosen, backend = admin_of(app_of(ctx), profile)
    filters = {"agent_name": agent_name, "schedule_type": schedule_type, "limit": limit}
    page = await backend.admin_list("schedules", workspace_id=workspace_id, filters=filters)
    return AdminResult(profile=chosen.name, kind="schedules", items=page.items, total=page.total)


async def schedules_get(
    schedule_id: ScheduleId,
    ctx: Context[Any, Any],
    view: Annotated[
        Literal["schedule", "runs", "events"], Field(description="The schedule itself, its runs, or its events.")
    ] = "schedule",
    status: Annotated[str | None, Field(max_length=50, description="With view runs: only this status.")] = None,
    limit: Limit = 20,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Read one schedule, its recent runs (status, duration, trigger) or its events."""
    chosen, backend = admin_of(app_of(ctx), profile)
    if view == "schedule":
        record = await backend.admin_get("schedules", schedule_id, workspace_id=workspace_id)
        return AdminResult(profile=chosen.name, kind="schedules", record=record)
    params = {"limit": limit, "status": status if view == "runs" else None}
    page = await backend.admin_page("schedules", schedule_id, view, workspace_id=workspace_id, params=params)
    return AdminResult(profile=chosen.name, kind="schedules", items=page.items, total=page.total)


async def schedules_create(
    agent_name: Annotated[str, Field(min_length=1, max_length=200, description="The agent the schedule runs.")],
    ctx: Context[Any, Any],
    schedule_type: Annotated[Literal["cron", "webhook"], Field(description="On a timetable, or on a webhook.")] = (
        "cron"
    ),
    cron_expression: Annotated[str | None, Field(max_length=100, description="For cron: e.g. 0 9 * * *.")] = None,
    timezone: Annotated[str | None, Field(max_length=64, description="For cron: e.g. Europe/Paris.")] = None,
    agent_version: Annotated[str | None, Field(max_length=50, description="Omit for the latest.")] = None,
    input_data: Annotated[dict[str, Any] | None, Field(description="The input each run gets.")] = None,
    secret_file: SecretFile = None,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Create a schedule that runs an agent on a cron timetable or when its webhook is called. A webhook's URL
    holds its secret and is shown only once: a webhook schedule needs secret_file (a new file the person chose,
    mode 0600), where the URL is written; it is never shown to you. Ask the person for the path first."""
    if schedule_type == "cron" and not cron_expression:
        raise InputError("A cron schedule needs cron_expression (e.g. '0 9 * * *').")
    chosen, backend = admin_of(app_of(ctx), profile)
    path = check_once(what="webhook URL", file=secret_file, why=_URL_RULES) if schedule_type == "webhook" else None
    spec: dict[str, Any] = {"agent_name": agent_name, "schedule_type": schedule_type}
    for key, value in (
        ("cron_expression", cron_expression),
        ("timezone", timezone),
        ("agent_version", agent_version),
        ("input_data", input_data),
    ):
        if value is not None:
            spec[key] = value
    made = await backend.admin_create("schedules", spec, workspace_id=workspace_id)
    note = None
    if made.once is not None and path is not None:
        note = hand_over(what="webhook URL", value=made.once, path=path)
    return AdminResult(profile=chosen.name, kind="schedules", record=made.record, done=True, note=note)


async def schedules_update(
    schedule_id: ScheduleId,
    changes: Annotated[
        dict[str, Any],
        Field(
            description="Fields to change: cron_expression, timezone, input_data, enabled, auto_update, "
            "agent_version, alert_webhook_url, alert_on_failure_count, llm_provider."
        ),
    ],
    ctx: Context[Any, Any],
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Change a schedule (e.g. enabled: false pauses it)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    record = await backend.admin_update("schedules", schedule_id, changes, workspace_id=workspace_id)
    return AdminResult(profile=chosen.name, kind="schedules", record=record, done=True)


async def schedules_trigger(
    schedule_id: ScheduleId,
    ctx: Context[Any, Any],
    input_data: Annotated[dict[str, Any] | None, Field(description="Input for this run only.")] = None,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Run a schedule now (the platform answers when the run is over: its status, duration and output)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    doc = await backend.admin_action("schedules", schedule_id, "trigger", input_data or {}, workspace_id=workspace_id)
    return AdminResult(profile=chosen.name, kind="schedules", record=doc, done=True)


async def schedules_delete(
    schedule_id: ScheduleId,
    ctx: Context[Any, Any],
    confirm: Confirm = False,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult | InputRequiredResult:
    """Delete a schedule. Destructive: the person must agree first (the client asks them; a client that cannot
    needs confirm: true after you asked them)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    record = await backend.admin_get("schedules", schedule_id, workspace_id=workspace_id)
    what = f"schedule {schedule_id!r} ({record.get('agent_name', '?')}, {record.get('schedule_type', '?')})"
    return await confirmed_delete(
        ctx, "schedules", schedule_id, what, profile=chosen.name, workspace=workspace_id, confirm=confirm
    )


# -- services -----------------------------------------------------------------------------------------------------


async def services_list(
    ctx: Context[Any, Any],
    status: Annotated[str | None, Field(max_length=50, description="Only services in this state.")] = None,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """List the workspace's always-on services: agent, state, health, restarts."""
    chosen, backend = admin_of(app_of(ctx), profile)
    page = await backend.admin_list("services", workspace_id=workspace_id, filters={"status": status, "limit": 100})
    return AdminResult(profile=chosen.name, kind="services", items=page.items, total=page.total)


async def services_get(
    service_id: ServiceId,
    ctx: Context[Any, Any],
    view: Annotated[Literal["service", "logs"], Field(description="The service, or its recent logs.")] = "service",
    limit: Limit = 100,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Read one always-on service (state, health, restarts), or its recent log lines."""
    chosen, backend = admin_of(app_of(ctx), profile)
    if view == "service":
        record = await backend.admin_get("services", service_id, workspace_id=workspace_id)
        return AdminResult(profile=chosen.name, kind="services", record=record)
    page = await backend.admin_page("services", service_id, "logs", workspace_id=workspace_id, params={"limit": limit})
    return AdminResult(profile=chosen.name, kind="services", items=page.items, total=len(page.items))


async def services_deploy(
    agent_name: Annotated[str, Field(min_length=1, max_length=200, description="The agent to run always-on.")],
    ctx: Context[Any, Any],
    service_name: Annotated[str | None, Field(max_length=100, description="Omit for the agent's name.")] = None,
    agent_version: Annotated[str | None, Field(max_length=50, description="Omit for the latest.")] = None,
    secret_names: Annotated[
        list[str] | None, Field(max_length=50, description="Workspace secrets (names) the service gets.")
    ] = None,
    min_instances: Annotated[int, Field(ge=0, le=100)] = 1,
    max_instances: Annotated[int, Field(ge=1, le=100)] = 1,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Deploy an agent as an always-on service in the workspace."""
    chosen, backend = admin_of(app_of(ctx), profile)
    spec: dict[str, Any] = {
        "agent_name": agent_name,
        "agent_version": agent_version or "latest",
        "service_name": service_name or agent_name,
        "min_instances": min_instances,
        "max_instances": max_instances,
        "secret_names": secret_names,
    }
    made = await backend.admin_create("services", spec, workspace_id=workspace_id)
    return AdminResult(profile=chosen.name, kind="services", record=made.record, done=True)


async def services_update(
    service_id: ServiceId,
    changes: Annotated[
        dict[str, Any],
        Field(description="Fields to change: min_instances, max_instances, env, secret_names, desired_state."),
    ],
    ctx: Context[Any, Any],
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Change a service (instances, environment, secrets, desired state)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    record = await backend.admin_update("services", service_id, changes, workspace_id=workspace_id)
    return AdminResult(profile=chosen.name, kind="services", record=record, done=True)


async def services_restart(
    service_id: ServiceId, ctx: Context[Any, Any], workspace_id: Workspace = None, profile: Profile = None
) -> AdminResult:
    """Restart an always-on service (it stops briefly); returns it with its restart count."""
    chosen, backend = admin_of(app_of(ctx), profile)
    record = await backend.admin_action("services", service_id, "restart", {}, workspace_id=workspace_id)
    return AdminResult(profile=chosen.name, kind="services", record=record, done=True)


async def services_delete(
    service_id: ServiceId,
    ctx: Context[Any, Any],
    confirm: Confirm = False,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult | InputRequiredResult:
    """Delete a service (it stops). Destructive: the person must agree first (the client asks them; a client that
    cannot needs confirm: true after you asked them)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    record = await backend.admin_get("services", service_id, workspace_id=workspace_id)
    what = f"service {record.get('service_name', service_id)!r} ({record.get('agent_name', '?')})"
    return await confirmed_delete(
        ctx, "services", service_id, what, profile=chosen.name, workspace=workspace_id, confirm=confirm
    )


SPECS = [
    _spec(schedules_list, "List schedules", read_only=True),
    _spec(schedules_get, "Read a schedule, its runs or events", read_only=True),
    _spec(schedules_create, "Create a schedule"),
    _spec(schedules_update, "Update a schedule", idempotent=True),
    _spec(schedules_trigger, "Run a schedule now"),
    _spec(schedules_delete, "Delete a schedule", destructive=True, idempotent=True),
    _spec(services_list, "List services", read_only=True),
    _spec(services_get, "Read a service or its logs", read_only=True),
    _spec(services_deploy, "Deploy a service"),
    _spec(services_update, "Update a service", idempotent=True),
    _spec(services_restart, "Restart a service"),
    _spec(services_delete, "Delete a service", destructive=True, idempotent=True),
    *admin_account.SPECS,
]
