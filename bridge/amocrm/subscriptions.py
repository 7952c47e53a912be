"""The account's webhook subscriptions (``/api/v4/webhooks``): list, subscribe, re-subscribe.

amoCRM disables a hook after many failed deliveries (reference §11.3) and says so
only in the ``disabled`` flag; the remedy is to delete and subscribe again.
:class:`~bridge.amocrm.client.AmoCrm` offers these as the
:class:`bridge.crm.WebhookSubscriptions` capability.
"""

from __future__ import annotations

from typing import Any

from bridge.amocrm.transport import Transport
from bridge.crm import HookSubscription

HOOKS = "/api/v4/webhooks"
LEAD_EVENTS = ("add_lead", "update_lead", "status_lead", "delete_lead", "note_lead")


def subscriptions(transport: Transport) -> list[HookSubscription]:
    reply = transport.request("GET", HOOKS)
    payload: Any = reply.payload or {}
    hooks = payload.get("_embedded", {}).get("webhooks", []) if isinstance(payload, dict) else []
    return [
        HookSubscription(
            str(h.get("destination", "")),
            bool(h.get("disabled")),
            tuple(str(s) for s in h.get("settings") or ()),
        )
        for h in hooks
    ]


def subscribe(transport: Transport, destination: str) -> str:
    """Make sure ``destination`` receives lead events; returns what was done."""
    current = {s.destination: s for s in subscriptions(transport)}
    existing = current.get(destination)
    if (
        existing is not None
        and not existing.disabled
        and set(LEAD_EVENTS) <= set(existing.settings)
    ):
        return "already registered"
    if existing is not None:
        transport.request("DELETE", HOOKS, body={"destination": destination}, idempotent=False)
    body = {"destination": destination, "settings": list(LEAD_EVENTS), "sort": 10}
    transport.request("POST", HOOKS, body=body, idempotent=False)
    return (
        "re-registered (was disabled)"
        if existing is not None and existing.disabled
        else "registered"
    )
