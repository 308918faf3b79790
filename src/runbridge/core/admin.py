"""Administration of a backend account, in domain terms: schedules, services, workspaces, secrets, billing and API
keys, and the capability protocol of an adapter that offers them (the `admin` toolset).

Records are plain JSON objects in the backend's own field names (an admin tool shows them as they are), minus
anything secret: a secret's value is never read back, and what is shown only once (a new API key, a webhook URL
carrying its secret) comes apart from the record, in `Created.once`, for the person alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from .threads import SecretRefs

__all__ = ["AdminAPI", "AdminKind", "AdminPage", "Balance", "Created"]

AdminKind = Literal["schedules", "services", "workspaces", "secrets", "api_keys"]


@dataclass
class AdminPage:
    """Some records of one kind, and how many there are in all (when the backend says)."""

    items: list[dict[str, Any]]
    total: int | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Records awaiting someone, listed beside the page (a workspace's pending invitations)."""


@dataclass
class Balance:
    """The account's credit: `cents` (None if the backend did not say), its transactions (recent ones, or the
    whole history), and the rest of what the backend says of it (`record`, its own field names)."""

    cents: int | float | None
    transactions: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class Created:
    """A record just made. `once`: what the backend shows only now and only the person may see (a new API key, a
    webhook URL with its secret), with what it is (`once_label`); never stored, logged or given to the model."""

    record: dict[str, Any]
    once: str | None = field(default=None, repr=False)
    once_label: str | None = None


@runtime_checkable
class AdminAPI(Protocol):
    """Administer the account. `workspace_id` None: the profile's workspace. Actions are the backend's verbs on
    one record, whose id "" for a workspace is the profile's: `admin_action` for those that act (`trigger` of a
    schedule, `restart` of a service, `invite` to a workspace), answered with a record (for `restart` and `invite`
    the record acted on); `admin_page` for those that list (`runs`, `events` of a schedule; `logs` of a service;
    `members` of a workspace, with its pending invitations), answered with a page."""

    async def admin_list(
        self, kind: AdminKind, *, workspace_id: str | None = None, filters: Mapping[str, Any] | None = None
    ) -> AdminPage: ...

    async def admin_get(self, kind: AdminKind, item_id: str, *, workspace_id: str | None = None) -> dict[str, Any]: ...

    async def admin_create(
        self, kind: AdminKind, spec: Mapping[str, Any], *, workspace_id: str | None = None
    ) -> Created: ...

    async def admin_update(
        self, kind: AdminKind, item_id: str, changes: Mapping[str, Any], *, workspace_id: str | None = None
    ) -> dict[str, Any]: ...

    async def admin_delete(self, kind: AdminKind, item_id: str, *, workspace_id: str | None = None) -> None: ...

    async def admin_action(
        self,
        kind: AdminKind,
        item_id: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        *,
        workspace_id: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    async def admin_page(
        self,
        kind: AdminKind,
        item_id: str,
        view: str,
        *,
        workspace_id: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> AdminPage: ...

    async def set_secret(
        self, name: str, source: SecretRefs, *, description: str | None = None, workspace_id: str | None = None
    ) -> dict[str, Any]:
        """Set workspace secret `name` to the value `source` names (its one reference, checked by the secret policy):
        read at once, sent, never returned."""
        ...

    async def billing(self, what: Literal["balance", "history"]) -> Balance:
        """The balance with its recent transactions, or (`history`) with every transaction."""
        ...

    async def checkout(self, amount_cents: int) -> str:
        """A payment page's URL that adds `amount_cents` of credit."""
        ...
