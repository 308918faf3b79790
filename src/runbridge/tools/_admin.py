"""What the admin tools share: argument types, the profile's `AdminAPI`, confirmed deletes, and their specs."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import InputRequiredResult
from pydantic import Field

from ..bridge.admin_results import AdminResult
from ..bridge.app import App
from ..bridge.confirming import Confirmation, confirm_action
from ..core.admin import AdminAPI, AdminKind
from ..core.config import Profile as ProfileConfig
from ..core.errors import sentences
from ._spec import ToolSpec, app_of

__all__ = [
    "Confirm",
    "Limit",
    "Profile",
    "SecretFile",
    "Workspace",
    "admin_of",
    "admin_spec",
    "confirmed_delete",
]

Profile = Annotated[str | None, Field(description="Profile name; omit for the default profile.")]
Workspace = Annotated[str | None, Field(max_length=200, description="Workspace id; omit for the profile's workspace.")]
Confirm = Annotated[
    bool,
    Field(
        description="Only for clients that cannot ask the person themselves: true once the person agreed, after "
        "you showed them what will be deleted. Never set it on your own."
    ),
]
Limit = Annotated[int, Field(ge=1, le=200, description="Records at most.")]
SecretFile = Annotated[
    str | None,
    Field(
        max_length=4096,
        description="A new file (absolute path on the runbridge machine) the person chose, to receive a secret the "
        "platform shows only once (a webhook URL, an API key), with mode 0600; required for those, as the secret "
        "goes nowhere else.",
    ),
]


def admin_of(app: App, profile: str | None) -> tuple[ProfileConfig, AdminAPI]:
    return app.adapters.require(profile, "admin", AdminAPI)


async def confirmed_delete(
    ctx: Context[Any, Any],
    kind: AdminKind,
    item_id: str,
    what: str,
    *,
    profile: str | None,
    workspace: str | None,
    confirm: bool,
    preview: str = "",
) -> AdminResult | InputRequiredResult:
    """Delete one record once the person agreed (`confirm_action`)."""
    app = app_of(ctx)
    chosen, backend = admin_of(app, profile)
    verdict = await confirm_action(
        ctx,
        Confirmation(
            action=f"admin_delete:{chosen.name}:{kind}:{workspace or ''}:{item_id}",
            question=sentences(f"Delete {what} on profile {chosen.name!r}? This cannot be undone", preview),
            refusal=sentences(f"Not deleted: the person must confirm deleting {what}", preview),
        ),
        confirm=confirm,
    )
    if isinstance(verdict, InputRequiredResult):
        return verdict
    if verdict == "declined":
        return AdminResult(profile=chosen.name, kind=kind, done=False, note="The person declined: nothing was deleted.")
    await backend.admin_delete(kind, item_id, workspace_id=workspace)
    return AdminResult(profile=chosen.name, kind=kind, done=True, note=f"Deleted {what}.")


def admin_spec(
    fn: Any, title: str, *, read_only: bool = False, destructive: bool = False, idempotent: bool = False
) -> ToolSpec:
    return ToolSpec(
        fn, "admin", title, read_only=read_only, destructive=destructive, idempotent=idempotent, capability="admin"
    )
