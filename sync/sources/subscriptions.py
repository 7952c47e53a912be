"""``bridge hooks install`` and ``bridge hooks status``.

amoCRM hooks are registered through its API (the adapter's
:class:`~bridge.crm.WebhookSubscriptions` capability); Bitrix24 outgoing
webhooks can only be created in the portal's UI, so for those the command
prints what to paste. Status shows, per account, whether its hook is registered and when it
last delivered — and flags a hook that went quiet while the partner's deals
kept changing (amoCRM silently disables hooks after repeated failures).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from bridge.crm import Crm, CrmError, WebhookSubscriptions
from bridge.mapping.compiled import Connection, CrmKind
from bridge.store import hooks, links
from bridge.store.db import Store
from sync.sources.webhooks import hook_urls

BITRIX_EVENTS = ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE")
QUIET_AFTER = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class HookStatus:
    label: str
    system: str
    registered: str  # "yes", "no", "disabled", "set up in the portal", or an error
    last_delivery: dt.datetime | None
    deliveries: int
    last_change: dt.datetime | None  # newest change the bridge saw on that side, any path
    warning: str = ""


def install(
    public_url: str, connections: Mapping[str, Connection], crms: Mapping[str, Crm]
) -> list[str]:
    """Register every amoCRM hook; return the lines to show the admin."""
    lines: list[str] = []
    for label, url in hook_urls(public_url, connections).items():
        hooks = _subscriptions(crms.get(label))
        if connections[label].kind is CrmKind.AMOCRM and hooks is not None:
            try:
                done = hooks.subscribe_hook(url)
                lines.append(f"{label}: amoCRM webhook {done} ({', '.join(hooks.hook_events)})")
            except CrmError as exc:
                lines.append(f"{label}: amoCRM webhook NOT registered: {exc}")
        else:
            lines += _bitrix_instructions(label, url)
    return lines


def _subscriptions(crm: object) -> WebhookSubscriptions | None:
    """The CRM's webhook-subscription capability, if it has one (amoCRM does)."""
    return crm if isinstance(crm, WebhookSubscriptions) else None


def _bitrix_instructions(label: str, url: str) -> list[str]:
    token = "AGENCY_B24_APP_TOKEN" if label == "agency" else f"{label.upper()}_B24_APP_TOKEN"
    return [
        f"{label}: Bitrix24 → Developer resources → Other → Outgoing webhook:",
        f"    handler URL: {url}",
        f"    events: {', '.join(BITRIX_EVENTS)}",
        f"    then put its application token into .env as {token}",
    ]


def status(
    store: Store,
    connections: Mapping[str, Connection],
    crms: Mapping[str, Crm],
    public_url: str | None,
    now: dt.datetime,
) -> list[HookStatus]:
    urls = hook_urls(public_url, connections) if public_url else {}
    with store.transaction() as session:
        deliveries = hooks.deliveries(session)
        changes = links.newest_seen(session)
    rows = []
    for label, crm in crms.items():
        seen = deliveries.get(crm.system)
        registered = _registered(crm, connections[label], urls.get(label))
        last = seen.last_at if seen else None
        change = changes.get(label)
        rows.append(
            HookStatus(
                label,
                crm.system,
                registered,
                last,
                seen.count if seen else 0,
                change,
                _warning(registered, last, change, now),
            )
        )
    return rows


def _registered(crm: Crm, connection: Connection, url: str | None) -> str:
    hooks = _subscriptions(crm)
    if connection.kind is not CrmKind.AMOCRM or hooks is None:
        return "set up in the portal"
    try:
        found = {s.destination: s for s in hooks.hook_subscriptions()}
    except CrmError as exc:
        return f"unknown ({exc})"
    mine = [s for d, s in found.items() if url is None or d == url]
    if not mine:
        return "no"
    return "disabled" if all(s.disabled for s in mine) else "yes"


def _warning(
    registered: str, last: dt.datetime | None, change: dt.datetime | None, now: dt.datetime
) -> str:
    if registered == "disabled":
        return "amoCRM disabled this hook: run `bridge hooks install` to re-register it"
    if change is not None and (last is None or change - last > QUIET_AFTER):
        return "the hook is quiet while polling still finds changes: check the hook"
    return ""
