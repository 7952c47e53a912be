"""Account webhooks of the sandbox: subscriptions and form-encoded delivery.

Bodies follow the captured ``webhook_leads_*.txt`` fixtures
(``leads[update][0][id]=…&account[subdomain]=…``) plus the keys integrators
report from current accounts (``created_at``, ``updated_at``,
``old_pipeline_id``, ``account[id]``). One POST per hook and change carries
every action the hook subscribed to. Delivery goes through the shared
:class:`EventOutbox` (2 s timeout); a failed attempt is retried after 5 min,
15 min, 15 min and 1 h of sandbox-clock time when :meth:`WebhookHub.deliver_due`
runs (tests call it after moving the clock); a hook with more than
``disable_after`` failed deliveries within ``disable_window`` seconds is
marked ``disabled`` and gets nothing more (reference §11.3).
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bridge.phpform import build
from bridge.sandbox.amocrm.http import ApiError, as_list, hal, json_body, query
from bridge.sandbox.amocrm.routes import Route, route
from bridge.sandbox.amocrm.store import Change, Record, Store
from bridge.sandbox.emulator import EventOutbox, Request, Response

SETTINGS = ("add_lead", "update_lead", "status_lead", "delete_lead", "note_lead", "restore_lead")
USER_AGENT = "amoCRM-WebHook-client/1.0"
RETRY_DELAYS = (300.0, 900.0, 900.0, 3600.0)  # 2nd after 5 min, 3rd +15 min, 4th +15, 5th +1 h


class WebhookHub:
    """Subscriptions plus the store listener that turns changes into deliveries."""

    def __init__(self, store: Store, outbox: EventOutbox) -> None:
        self.store = store
        self.outbox = outbox
        self.hooks: dict[str, Record] = {}
        self.disable_after = 100
        self.disable_window = 7200.0
        # Seconds after a failed attempt before the next one (reference §11.3,
        # simplified: every failure kind gets the longest schedule).
        self.retry_delays: list[float] = list(RETRY_DELAYS)
        self._sent: dict[str, tuple[str, str, int]] = {}  # key -> destination, body, attempt
        self._retries: list[tuple[float, str, str, int]] = []  # due, destination, body, attempt
        self._keys = itertools.count(1)

    def subscribe(self, destination: str, settings: list[str], sort: int = 10) -> Record:
        unknown = [s for s in settings if s not in SETTINGS]
        if not destination.startswith(("http://", "https://")) or unknown or not settings:
            raise ApiError(
                400, f"Invalid webhook: destination={destination!r} settings={settings!r}"
            )
        now = self.store.now()
        hook = self.hooks.get(destination)
        if hook is None:
            hook = {
                "id": self.store.next_id("webhook"),
                "destination": destination,
                "created_by": self.store.admin_id,
                "created_at": now,
                "failures": deque(),
            }
            self.hooks[destination] = hook
        hook.update(
            updated_at=now, sort=sort, disabled=False, settings=list(dict.fromkeys(settings))
        )
        hook["failures"].clear()
        return hook

    def unsubscribe(self, destination: str) -> bool:
        return self.hooks.pop(destination, None) is not None

    def render(self, hook: Record) -> Record:
        body = {k: v for k, v in hook.items() if k != "failures"}
        body["account_id"] = self.store.account_id
        return body

    # --- delivery ------------------------------------------------------------------

    def __call__(self, change: Change) -> None:
        actions = _actions(self.store, change)
        for hook in list(self.hooks.values()):
            wanted = {k: v for k, v in actions.items() if f"{k}_lead" in hook["settings"]}
            if hook["disabled"] or not wanted:
                continue
            body = encode({"leads": wanted, "account": self._account()})
            self._send(hook["destination"], body, 1)

    def _send(self, destination: str, body: str, attempt: int) -> None:
        key = str(next(self._keys))
        self._sent[key] = (destination, body, attempt)
        self.outbox.send(destination, body, key=key, on_result=self._result)

    def deliver_due(self) -> int:
        """Send the retries whose time (by the sandbox clock) has come; how many."""
        with self.store.lock:
            now = self.store.clock.time()
            due = [r for r in self._retries if r[0] <= now]
            self._retries = [r for r in self._retries if r[0] > now]
            for _, destination, body, attempt in due:
                hook = self.hooks.get(destination)
                if hook is not None and not hook["disabled"]:
                    self._send(destination, body, attempt)
            return len(due)

    def _account(self) -> dict[str, Any]:
        base = self.store.base_url
        return {
            "subdomain": self.store.subdomain,
            "id": self.store.account_id,
            "_links": {"self": base},
        }

    def _result(self, key: str, ok: bool) -> None:
        with self.store.lock:
            # A duplicated delivery reports twice under one key; only the first counts.
            entry = self._sent.pop(key, None)
            if entry is None:
                return
            destination, body, attempt = entry
            hook = self.hooks.get(destination)
            if hook is None or ok:
                return
            now = self.store.clock.time()
            if attempt <= len(self.retry_delays):
                due = now + self.retry_delays[attempt - 1]
                self._retries.append((due, destination, body, attempt + 1))
            failures: deque[float] = hook["failures"]
            failures.append(now)
            while failures and failures[0] <= now - self.disable_window:
                failures.popleft()
            if len(failures) > self.disable_after:
                hook["disabled"] = True


def encode(payload: dict[str, Any]) -> str:
    """PHP bracket form, every key and value percent-encoded as the captures show
    (``leads%5Bupdate%5D…``, spaces as ``+``)."""
    return urlencode(parse_qsl(build(payload), keep_blank_values=True))


def _actions(store: Store, change: Change) -> dict[str, list[dict[str, Any]]]:
    lead = change.after
    if change.action == "add":
        return {"add": [lead_form(store, lead)]}
    if change.action == "delete":
        return {
            "delete": [
                {
                    "id": lead["id"],
                    "status_id": lead["status_id"],
                    "pipeline_id": lead["pipeline_id"],
                }
            ]
        }
    if change.action == "note":
        return {"note": [{"note": _note_form(change.note or {})}]}
    found: dict[str, list[dict[str, Any]]] = {"update": [lead_form(store, lead)]}
    before = change.before or {}
    if (before.get("status_id"), before.get("pipeline_id")) != (
        lead["status_id"],
        lead["pipeline_id"],
    ):
        status = lead_form(store, lead)
        status["old_status_id"] = before.get("status_id")
        status["old_pipeline_id"] = before.get("pipeline_id")
        found["status"] = [status]
    return found


def lead_form(store: Store, lead: Record) -> dict[str, Any]:
    """A lead in the webhook's v2-style keys (see ``webhook_leads_update.txt``)."""
    form: dict[str, Any] = {
        "id": lead["id"],
        "name": lead["name"],
        "status_id": lead["status_id"],
        "price": lead["price"],
        "responsible_user_id": lead["responsible_user_id"],
        "last_modified": lead["updated_at"],
        "modified_user_id": lead["updated_by"],
        "created_user_id": lead["created_by"],
        "date_create": lead["created_at"],
        "pipeline_id": lead["pipeline_id"],
        "account_id": store.account_id,
        "created_at": lead["created_at"],
        "updated_at": lead["updated_at"],
    }
    if lead.get("tags"):
        form["tags"] = [{"id": t["id"], "name": t["name"]} for t in lead["tags"]]
    fields = [_field_form(store, field_id, values) for field_id, values in lead["cf"].items()]
    if fields:
        form["custom_fields"] = fields
    return form


def _field_form(store: Store, field_id: int, values: list[Record]) -> dict[str, Any]:
    definition = store.fields["leads"].get(field_id, {})
    out = []
    for value in values:
        item: dict[str, Any] = {"value": _scalar(value.get("value"))}
        if value.get("enum_id") is not None:
            item["enum"] = value["enum_id"]
        out.append(item)
    return {"id": field_id, "name": definition.get("name", ""), "values": out}


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"  # PHP forms have no booleans
    return value


def _note_form(note: Record) -> dict[str, Any]:
    return {
        "id": note.get("id"),
        "note_type": note.get("note_type"),
        "text": (note.get("params") or {}).get("text", ""),
        "element_id": note.get("entity_id"),
        "element_type": 2,
        "created_by": note.get("created_by"),
        "date_create": note.get("created_at"),
    }


# --- endpoints ---------------------------------------------------------------------


def _hub(store: Store) -> WebhookHub:
    hub = next((x for x in store.listeners if isinstance(x, WebhookHub)), None)
    if hub is None:
        raise ApiError(500, "webhooks are not wired")
    return hub


def list_hooks(store: Store, request: Request, _: dict[str, str]) -> Response:
    hub = _hub(store)
    filters = query(request).get("filter") or {}
    wanted = set(as_list(filters.get("destination"))) if isinstance(filters, dict) else set()
    hooks = [hub.render(h) for h in hub.hooks.values() if not wanted or h["destination"] in wanted]
    if not hooks:
        return Response(204, b"", {})
    href = f"{store.base_url}/api/v4/webhooks"
    return hal(
        {
            "_total_items": len(hooks),
            "_links": {"self": {"href": href}},
            "_embedded": {"webhooks": hooks},
        }
    )


def post_hook(store: Store, request: Request, _: dict[str, str]) -> Response:
    data = json_body(request)
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be an object")
    settings = data.get("settings")
    if not isinstance(settings, list) or not isinstance(data.get("destination"), str):
        raise ApiError(400, "destination and settings are required")
    hook = _hub(store).subscribe(
        data["destination"], [str(s) for s in settings], int(data.get("sort", 10))
    )
    return hal(_hub(store).render(hook))


def delete_hook(store: Store, request: Request, _: dict[str, str]) -> Response:
    data = json_body(request)
    if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
        raise ApiError(400, "destination is required")
    if not _hub(store).unsubscribe(data["destination"]):
        raise ApiError(404, f"Webhook {data['destination']} not found")
    return Response(204, b"", {})


ROUTES: list[Route] = [
    route("GET", "/api/v4/webhooks", list_hooks),
    route("POST", "/api/v4/webhooks", post_hook),
    route("DELETE", "/api/v4/webhooks", delete_hook),
]
