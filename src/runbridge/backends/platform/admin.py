"""The administration part of the platform adapter (docs/backends/platform.md, "Administration"): schedules,
services, workspaces, secrets, billing and API keys, in the shapes the official CLI reads (`{"schedules": [...],
"total"}`, `{"schedule": {...}}`, ...; bare or enveloped).

What the platform shows only once never enters a record: a webhook schedule's `webhook_url` (its secret is in the
URL) and `webhook_secret`, a new API key. They come apart in `Created.once`, registered with the log redactor at
once. A secret's value is read from the environment variable or file the call named, right before it is sent
(`secret_values.py`), and never returned. Billing and secrets use the paths where the API overview and the CLI
differ in the documented order (`client.PATHS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from ...core.admin import AdminKind, AdminPage, Balance, Created
from ...core.errors import BackendError, InputError, NotFoundError, UnsupportedError, sentences
from ...core.logs import redact, register_secret
from ...core.threads import SecretRefs
from ...http import segment
from .client import PATHS, PlatformHttp
from .secret_values import read_value

__all__ = ["PlatformAdmin"]

# kind -> (collection path, list key, record key)
_ROUTES: dict[str, tuple[str, str, str]] = {
    "schedules": ("/workspaces/{ws}/schedules", "schedules", "schedule"),
    "services": ("/workspaces/{ws}/services", "services", "service"),
    "workspaces": ("/workspaces", "workspaces", "workspace"),
    "secrets": ("/workspaces/{ws}/secrets", "secrets", "secret"),
    "api_keys": ("/api-keys", "api_keys", "api_key"),
}
# (kind, action) -> the key of the one record it answers with (None: the answer is the record); POSTed to the
# record's path, then /action
_ACTIONS: dict[tuple[str, str], str | None] = {
    ("schedules", "trigger"): None,
    ("services", "restart"): "service",
    ("workspaces", "invite"): "invitation",
}
# (kind, view) -> (the key of the records it lists, the key of those pending beside them); read at the record's
# path, then /view
_VIEWS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("schedules", "runs"): ("runs", None),
    ("schedules", "events"): ("events", None),
    ("services", "logs"): ("logs", None),
    ("workspaces", "members"): ("members", "invitations"),
}
_ONCE = ("webhook_url", "webhook_secret")  # shown when a webhook schedule is made, never again
_NEVER = ("value", "secret_value", "key", "plaintext_key")  # a value the platform should not send back, dropped
_SINGULAR = {"schedules": "schedule", "services": "service", "workspaces": "workspace", "secrets": "secret"}


def _unwrapped(data: Any, key: str) -> dict[str, Any]:
    """The record an answer holds: under `key`, or the answer itself (bare)."""
    found = data.get(key) if isinstance(data, dict) and isinstance(data.get(key), dict) else data
    return cast(dict[str, Any], found) if isinstance(found, dict) else {}


def _record(data: Any, key: str) -> dict[str, Any]:
    return _safe(_unwrapped(data, key))


def _safe(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in _NEVER and k not in _ONCE}


def _balance(doc: dict[str, Any]) -> Balance:
    """A balance answer (`balance_cents`, `recent_transactions`) or a history answer (`transactions`)."""
    cents = doc.get("balance_cents")
    lists = ("recent_transactions", "transactions")
    rows = next((doc[k] for k in lists if isinstance(doc.get(k), list)), [])
    record = {k: v for k, v in doc.items() if k not in lists}
    known = isinstance(cents, int | float) and not isinstance(cents, bool)
    return Balance(cents if known else None, [r for r in rows if isinstance(r, dict)], record)


def _items(data: Any, key: str) -> list[dict[str, Any]]:
    items = data.get(key) if isinstance(data, dict) else data
    return [_safe(i) for i in items if isinstance(i, dict)] if isinstance(items, list) else []


class PlatformAdmin:
    """`AdminAPI`."""

    wire: PlatformHttp

    async def _base(self, kind: AdminKind, workspace_id: str | None) -> str:
        path = _ROUTES[kind][0]
        if "{ws}" in path:
            path = path.format(ws=segment(workspace_id or await self.wire.workspace()))
        return path

    async def admin_list(
        self, kind: AdminKind, *, workspace_id: str | None = None, filters: Mapping[str, Any] | None = None
    ) -> AdminPage:
        params = {k: v for k, v in (filters or {}).items() if v is not None}
        answer = await self.wire.call("GET", await self._base(kind, workspace_id), action=f"list {kind}", params=params)
        items = _items(answer.data, _ROUTES[kind][1])
        total = answer.data.get("total") if isinstance(answer.data, dict) else None
        return AdminPage(items, total if isinstance(total, int) else len(items))

    async def admin_get(self, kind: AdminKind, item_id: str, *, workspace_id: str | None = None) -> dict[str, Any]:
        if kind in ("workspaces", "secrets", "api_keys"):  # no single-record path: found in the list
            page = await self.admin_list(kind, workspace_id=workspace_id)
            for item in page.items:
                if item_id in (item.get("id"), item.get("name"), item.get("slug")):
                    return item
            raise NotFoundError(f"No {_SINGULAR.get(kind, 'API key')} {item_id!r} on this account.")
        path = f"{await self._base(kind, workspace_id)}/{segment(item_id)}"
        try:
            answer = await self.wire.call("GET", path, action=f"read the {_SINGULAR[kind]}")
        except NotFoundError as exc:
            exc.message = sentences(exc.message, f"No {_SINGULAR[kind]} {item_id!r} in this workspace")
            raise
        return _record(answer.data, _ROUTES[kind][2])

    async def admin_create(
        self, kind: AdminKind, spec: Mapping[str, Any], *, workspace_id: str | None = None
    ) -> Created:
        if kind == "secrets":
            raise UnsupportedError("Secrets are set with set_secret, from a variable or a file, never a literal.")
        base = await self._base(kind, workspace_id)
        answer = await self.wire.call("POST", base, action=f"create the {_SINGULAR.get(kind, 'API key')}", json=spec)
        data: Any = answer.data
        raw = _unwrapped(data, _ROUTES[kind][2])
        once = label = None
        if kind == "schedules" and isinstance(raw.get("webhook_url"), str):
            once, label = raw["webhook_url"], "webhook URL"
        elif kind == "api_keys":
            key = data.get("key") if isinstance(data, dict) else None
            key = key if isinstance(key, str) else raw.get("key")
            if isinstance(key, str):
                once, label = key, "API key"
        for value in (once, raw.get("webhook_secret")):
            if isinstance(value, str) and value:
                register_secret(value)
        return Created(_safe(raw), once, label)

    async def admin_update(
        self, kind: AdminKind, item_id: str, changes: Mapping[str, Any], *, workspace_id: str | None = None
    ) -> dict[str, Any]:
        if kind not in ("schedules", "services"):
            raise UnsupportedError(f"orchagent.io {kind} are not updated this way.")
        path = f"{await self._base(kind, workspace_id)}/{segment(item_id)}"
        answer = await self.wire.call("PATCH", path, action=f"update the {_SINGULAR[kind]}", json=dict(changes))
        return _record(answer.data, _ROUTES[kind][2])

    async def admin_delete(self, kind: AdminKind, item_id: str, *, workspace_id: str | None = None) -> None:
        if kind == "secrets":
            await self._delete_secret(item_id, workspace_id)
            return
        if kind == "workspaces":
            raise UnsupportedError("orchagent.io workspaces are not deleted through its API.")
        path = f"{await self._base(kind, workspace_id)}/{segment(item_id)}"
        await self.wire.call("DELETE", path, action=f"delete the {_SINGULAR.get(kind, 'API key')}")

    async def _record_path(self, kind: AdminKind, item_id: str, workspace_id: str | None, action: str) -> str:
        base = await self._base(kind, None if kind == "workspaces" else workspace_id)
        if kind == "workspaces" and not item_id:  # the profile's workspace
            item_id = await self.wire.workspace()
        return f"{base}/{segment(item_id)}/{action}"

    async def admin_action(
        self,
        kind: AdminKind,
        item_id: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        *,
        workspace_id: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        if (kind, action) not in _ACTIONS:
            raise UnsupportedError(f"orchagent.io has no {action!r} for {kind}.")
        path = await self._record_path(kind, item_id, workspace_id, action)
        answer = await self.wire.call(
            "POST",
            path,
            action=f"{action} the {_SINGULAR[kind]}",
            json=dict(body or {}),
            params={k: v for k, v in (params or {}).items() if v is not None} or None,
        )
        record_key = _ACTIONS[(kind, action)]
        data = answer.data
        if record_key is not None:
            return _record(data, record_key)
        return _safe(data) if isinstance(data, dict) else {"items": data}

    async def admin_page(
        self,
        kind: AdminKind,
        item_id: str,
        view: str,
        *,
        workspace_id: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> AdminPage:
        found = _VIEWS.get((kind, view))
        if found is None:
            raise UnsupportedError(f"orchagent.io has no {view!r} list for {kind}.")
        items_key, pending_key = found
        path = await self._record_path(kind, item_id, workspace_id, view)
        answer = await self.wire.call(
            "GET",
            path,
            action=f"read the {_SINGULAR[kind]}'s {view}",
            params={k: v for k, v in (params or {}).items() if v is not None} or None,
        )
        data = answer.data
        total = data.get("total") if isinstance(data, dict) else None
        pending = _items(data, pending_key) if pending_key is not None and isinstance(data, dict) else []
        return AdminPage(_items(data, items_key), total if isinstance(total, int) else None, pending)

    # -- secrets ------------------------------------------------------------------------------------------------

    async def _secret_id(self, name: str, workspace_id: str | None) -> str | None:
        page = await self.admin_list("secrets", workspace_id=workspace_id)
        found = next((s for s in page.items if s.get("name") == name), None)
        return str(found["id"]) if found and found.get("id") else None

    async def set_secret(
        self, name: str, source: SecretRefs, *, description: str | None = None, workspace_id: str | None = None
    ) -> dict[str, Any]:
        value = read_value(source, name, getattr(self, "env", {}))
        ws = segment(workspace_id or await self.wire.workspace())
        body: dict[str, Any] = {"name": name, "value": value}
        if description is not None:
            body["description"] = description
        action = f"set secret {name}"
        try:
            (put_method, put_path), (post_method, post_path) = PATHS["secrets.set"]
            try:
                answer = await self.wire.call(put_method, put_path.format(workspace=ws), action=action, json=body)
            except BackendError as exc:
                if exc.status not in (404, 405):
                    raise
                existing = await self._secret_id(name, workspace_id)
                if existing is None:
                    body["secret_type"] = "custom"  # noqa: S105  (a kind of secret, not one)
                    answer = await self.wire.call(post_method, post_path.format(workspace=ws), action=action, json=body)
                else:
                    patch = {k: v for k, v in body.items() if k != "name"}
                    path = f"{post_path.format(workspace=ws)}/{segment(existing)}"
                    answer = await self.wire.call("PATCH", path, action=action, json=patch)
        except BackendError as exc:  # in case the platform echoed the value
            exc.message = redact(exc.message)
            raise
        record = _record(answer.data, "secret")
        return record or {"name": name, "updated": True}

    async def _delete_secret(self, name: str, workspace_id: str | None) -> None:
        ws = segment(workspace_id or await self.wire.workspace())
        (by_name_method, by_name), (by_id_method, by_id) = PATHS["secrets.delete"]
        try:
            await self.wire.call(
                by_name_method, by_name.format(workspace=ws, name=segment(name)), action=f"delete secret {name}"
            )
            return
        except BackendError as exc:
            if exc.status not in (404, 405):
                raise
        secret_id = await self._secret_id(name, workspace_id)
        if secret_id is None:
            raise NotFoundError(f"No secret named {name!r} in workspace {workspace_id or ws}.")
        path = by_id.format(workspace=ws, secret_id=segment(secret_id))
        await self.wire.call(by_id_method, path, action=f"delete secret {name}")

    # -- billing ------------------------------------------------------------------------------------------------

    async def billing(self, what: Literal["balance", "history"]) -> Balance:
        if what == "history":
            try:
                data = (await self.wire.call("GET", "/billing/history", action="read the billing history")).data
                doc = data if isinstance(data, dict) else {"transactions": data}
                if isinstance(doc.get("transactions"), list):
                    return _balance(doc)
            except BackendError as exc:
                if exc.status not in (404, 405):
                    raise
            # no history of its own (the CLI's `billing history` is the balance's recent transactions)
        answer = await self.wire.first_of(PATHS["billing.balance"], action="read the credit balance")
        return _balance(answer.data if isinstance(answer.data, dict) else {})

    async def checkout(self, amount_cents: int) -> str:
        if amount_cents < 500:
            raise InputError("orchagent.io adds credit from $5.00 (amount_cents 500) up.")
        answer = await self.wire.first_of(
            PATHS["billing.checkout"], action="start a credit checkout", json={"amount_cents": amount_cents}
        )
        url = answer.data.get("checkout_url") if isinstance(answer.data, dict) else None
        if not isinstance(url, str) or not url.startswith("https://"):
            raise BackendError("orchagent.io answered the checkout without a payment URL.", backend="platform")
        return url
