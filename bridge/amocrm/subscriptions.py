"""The account's webhook subscriptions (``/api/v4/webhooks``): list, subscribe, re-subscribe.

amoCRM disables a hook after many failed deliveries (reference §11.3) and says so
only in the ``disabled`` flag; the remedy is to delete and subscribe again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.amocrm.client import AmoCrm

HOOKS = "/api/v4/webhooks"
LEAD_EVENTS = ("add_lead", "update_lead", "status_lead", "delete_lead", "note_lead")


@dataclass(frozen=True, slots=True)
class Subscription:
    destination: str
    disabled: bool
    settings: tuple[str, ...]


def subscriptions(crm: AmoCrm) -> list[Subscription]:
    reply = crm.transport.request("GET", HOOKS)
    payload: Any = reply.payload or {}
    hooks = payload.get("_embedded", {}).get("webhooks", []) if isinstance(payload, dict) else []
    return [
        Subscription(
            str(h.get("destination", "")),
            bool(h.get("disabled")),
            tuple(str(s) for s in h.get("settings") or ()),
        )
        for h in hooks
    ]


def subscribe(crm: AmoCrm, destination: str) -> str:
    """Make sure ``destination`` receives lead events; returns what was done."""
    current = {s.destination: s for s in subscriptions(crm)}
    existing = current.get(destination)
    if (
        existing is not None
        and not existing.disabled
        and set(LEAD_EVENTS) <= set(existing.settings)
    ):
        return "already registered"
    if existing is not None:
        crm.transport.request("DELETE", HOOKS, body={"destination": destination}, idempotent=False)
    body = {"destination": destination, "settings": list(LEAD_EVENTS), "sort": 10}
    crm.transport.request("POST", HOOKS, body=body, idempotent=False)
    return (
        "re-registered (was disabled)"
        if existing is not None and existing.disabled
        else "registered"
    )
