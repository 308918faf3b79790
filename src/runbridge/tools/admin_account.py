"""The admin toolset's account tools: workspaces (list, create, members, invite), workspace secrets (names only; a
value only from an environment variable or a file the call names, under the secret policy), billing (balance,
history, checkout: the payment page put to the person where the client can) and API keys (a new key goes to the
person, never to the model)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import InputRequiredResult
from pydantic import Field

from ..bridge.admin_results import AdminResult, check_once, hand_over, show_url, shown_before
from ..core.errors import InputError
from ..core.threads import SecretRefs
from ._admin import Confirm, Profile, SecretFile, Workspace, admin_of, admin_spec, confirmed_delete
from ._spec import app_of

__all__ = ["SPECS"]

SecretName = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[A-Z][A-Z0-9_]*$", description="The secret's name, e.g. API_TOKEN."),
]


# -- workspaces ---------------------------------------------------------------------------------------------------


async def workspaces_list(ctx: Context[Any, Any], profile: Profile = None) -> AdminResult:
    """List the workspaces the account belongs to (personal and team)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    page = await backend.admin_list("workspaces")
    return AdminResult(profile=chosen.name, kind="workspaces", items=page.items, total=page.total)


async def workspaces_members(
    ctx: Context[Any, Any], workspace_id: Workspace = None, profile: Profile = None
) -> AdminResult:
    """List a workspace's members and pending invitations."""
    chosen, backend = admin_of(app_of(ctx), profile)
    page = await backend.admin_page("workspaces", workspace_id or "", "members")  # "": the profile's workspace
    members, invites = page.items, page.pending
    note = (
        f"{len(invites)} pending invitation(s): {', '.join(str(i.get('email')) for i in invites)}." if invites else None
    )
    return AdminResult(profile=chosen.name, kind="workspaces", items=members, total=len(members), note=note)


async def workspaces_create(
    name: Annotated[str, Field(min_length=1, max_length=100, description="The team workspace's name.")],
    ctx: Context[Any, Any],
    slug: Annotated[str | None, Field(max_length=100, pattern=r"^[a-z0-9-]+$")] = None,
    profile: Profile = None,
) -> AdminResult:
    """Create a team workspace (members are then invited with workspaces_invite)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    made = await backend.admin_create("workspaces", {"name": name, **({"slug": slug} if slug else {})})
    return AdminResult(profile=chosen.name, kind="workspaces", record=made.record, done=True)


async def workspaces_invite(
    email: Annotated[str, Field(min_length=3, max_length=320, description="Who to invite.")],
    ctx: Context[Any, Any],
    role: Annotated[Literal["member", "admin"], Field(description="Their role once they accept.")] = "member",
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Invite someone to a workspace by email, as a member or an admin; the invitation stays pending until they
    accept."""
    chosen, backend = admin_of(app_of(ctx), profile)
    record = await backend.admin_action("workspaces", workspace_id or "", "invite", {"email": email, "role": role})
    return AdminResult(profile=chosen.name, kind="workspaces", record=record, done=True)


# -- secrets ------------------------------------------------------------------------------------------------------


async def secrets_list(ctx: Context[Any, Any], workspace_id: Workspace = None, profile: Profile = None) -> AdminResult:
    """List the workspace's secrets: names, kinds and dates, never values."""
    chosen, backend = admin_of(app_of(ctx), profile)
    page = await backend.admin_list("secrets", workspace_id=workspace_id)
    return AdminResult(profile=chosen.name, kind="secrets", items=page.items, total=page.total)


async def secrets_set(
    name: SecretName,
    ctx: Context[Any, Any],
    from_env: Annotated[
        str | None,
        Field(max_length=200, description="The environment variable (of the runbridge process) holding the value."),
    ] = None,
    from_file: Annotated[
        str | None, Field(max_length=4096, description="Or: a file (mode 0600) holding only the value.")
    ] = None,
    description: Annotated[str | None, Field(max_length=500)] = None,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult:
    """Create or update a workspace secret. Its value is never an argument: name an environment variable
    (from_env) or a file of mode 0600 (from_file) holding it; references to runbridge's own credentials, or outside
    what the profile allows, are refused and nothing is sent. The value never comes back."""
    if (from_env is None) == (from_file is None):
        raise InputError("Name exactly one of from_env (a variable) or from_file (a 0600 file) holding the value.")
    app = app_of(ctx)
    chosen, backend = admin_of(app, profile)
    refs = SecretRefs(from_env={name: from_env} if from_env else {}, from_file={name: from_file} if from_file else {})
    refs = app.secrets.check(chosen, refs)  # before anything is read or sent
    record = await backend.set_secret(name, refs, description=description, workspace_id=workspace_id)
    return AdminResult(profile=chosen.name, kind="secrets", record=record, done=True, note=f"Secret {name} is set.")


async def secrets_delete(
    name: SecretName,
    ctx: Context[Any, Any],
    confirm: Confirm = False,
    workspace_id: Workspace = None,
    profile: Profile = None,
) -> AdminResult | InputRequiredResult:
    """Delete a workspace secret (agents and services using it lose it). Destructive: the person must agree first
    (the client asks them; a client that cannot needs confirm: true after you asked them)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    await backend.admin_get("secrets", name, workspace_id=workspace_id)  # it exists: say so before asking
    return await confirmed_delete(
        ctx, "secrets", name, f"secret {name}", profile=chosen.name, workspace=workspace_id, confirm=confirm
    )


# -- billing ------------------------------------------------------------------------------------------------------


async def billing_balance(
    ctx: Context[Any, Any],
    history: Annotated[bool, Field(description="The whole transaction history, not only recent ones.")] = False,
    profile: Profile = None,
) -> AdminResult:
    """The account's prepaid credit balance (for paid agents) and its transactions."""
    chosen, backend = admin_of(app_of(ctx), profile)
    balance = await backend.billing("balance")
    rows = (await backend.billing("history")).transactions if history else balance.transactions
    note = f"Balance: ${balance.cents / 100:.2f}." if balance.cents is not None else None
    return AdminResult(
        profile=chosen.name, kind="billing", record=balance.record, items=rows, total=len(rows), note=note
    )


async def billing_checkout(
    amount_usd: Annotated[float, Field(ge=5, le=10_000, description="Credit to add, in US dollars (from 5).")],
    ctx: Context[Any, Any],
    profile: Profile = None,
) -> AdminResult | InputRequiredResult:
    """Start adding credit: a payment page the person opens to pay. Where the client can, runbridge shows the page
    to the person itself; otherwise the result holds its URL for you to give them."""
    chosen, backend = admin_of(app_of(ctx), profile)
    if shown_before(ctx, "payment page"):  # a 2026 retry: the page was shown
        return AdminResult(
            profile=chosen.name, kind="billing", done=True, note="The payment page was shown to the person."
        )
    url = await backend.checkout(round(amount_usd * 100))
    message = f"Add ${amount_usd:.2f} of orchagent.io credit: open the payment page and pay there."
    shown = await show_url(ctx, message=message, url=url, what="payment page")
    if isinstance(shown, InputRequiredResult):
        return shown
    if shown:
        return AdminResult(
            profile=chosen.name, kind="billing", done=True, note="The payment page was shown to the person."
        )
    return AdminResult(
        profile=chosen.name,
        kind="billing",
        record={"checkout_url": url},
        done=True,
        note="Give the person this payment page's URL; the credit is added once they pay.",
    )


# -- API keys -----------------------------------------------------------------------------------------------------


async def api_keys_list(ctx: Context[Any, Any], profile: Profile = None) -> AdminResult:
    """List the account's API keys (names, prefixes, last use; never the keys)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    page = await backend.admin_list("api_keys")
    return AdminResult(profile=chosen.name, kind="api_keys", items=page.items, total=page.total)


async def api_keys_create(
    name: Annotated[str, Field(min_length=1, max_length=100, description="What the key is for.")],
    secret_file: SecretFile,
    ctx: Context[Any, Any],
    profile: Profile = None,
) -> AdminResult:
    """Create an API key. The key is shown only once and never to you: it is written to secret_file (a new file
    the person chose, mode 0600); ask them for the path first."""
    chosen, backend = admin_of(app_of(ctx), profile)
    path = check_once(what="API key", file=secret_file)
    made = await backend.admin_create("api_keys", {"name": name})
    note = hand_over(what="API key", value=made.once, path=path) if made.once is not None else None
    return AdminResult(profile=chosen.name, kind="api_keys", record=made.record, done=True, note=note)


async def api_keys_delete(
    key_id: Annotated[str, Field(min_length=1, max_length=200, description="The key's id (api_keys_list).")],
    ctx: Context[Any, Any],
    confirm: Confirm = False,
    profile: Profile = None,
) -> AdminResult | InputRequiredResult:
    """Delete an API key: whatever uses it stops working. Destructive: the person must agree first (the client
    asks them; a client that cannot needs confirm: true after you asked them)."""
    chosen, backend = admin_of(app_of(ctx), profile)
    record = await backend.admin_get("api_keys", key_id)
    what = f"API key {record.get('name', key_id)!r} ({record.get('prefix', '?')}…)"
    return await confirmed_delete(ctx, "api_keys", key_id, what, profile=chosen.name, workspace=None, confirm=confirm)


SPECS = [
    admin_spec(workspaces_list, "List workspaces", read_only=True),
    admin_spec(workspaces_members, "List a workspace's members", read_only=True),
    admin_spec(workspaces_create, "Create a workspace"),
    admin_spec(workspaces_invite, "Invite to a workspace"),
    admin_spec(secrets_list, "List workspace secrets", read_only=True),
    admin_spec(secrets_set, "Set a workspace secret", idempotent=True),
    admin_spec(secrets_delete, "Delete a workspace secret", destructive=True, idempotent=True),
    admin_spec(billing_balance, "Show the credit balance", read_only=True),
    admin_spec(billing_checkout, "Add credit"),
    admin_spec(api_keys_list, "List API keys", read_only=True),
    admin_spec(api_keys_create, "Create an API key"),
    admin_spec(api_keys_delete, "Delete an API key", destructive=True, idempotent=True),
]
