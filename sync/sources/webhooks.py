"""Build the webhook routes of the HTTP app from the compiled mapping.

Each route gets its adapter's :class:`~bridge.crm.WebhookParser` (both adapters'
``webhook.Webhook`` share one ``parse`` shape) bound to the credentials it checks
(the agency's outgoing-webhook application token, each Bitrix24 partner's token;
each amoCRM partner's path secret is compared by the route itself) and the
``system`` label its CRM adapter uses, so a hint names exactly the account the
engine will re-read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from bridge.amocrm.webhook import Webhook as AmoWebhook
from bridge.bitrix.webhook import Webhook as BitrixWebhook
from bridge.crm import WebhookParser, WebhookRejected
from bridge.mapping.compiled import CompiledMapping, Connection, CrmKind
from bridge.model import Hint
from bridge.secrets import Secret
from sync.runtime.app import HookRejected, HookRoutes, Parser

# Older events are replays: Bitrix24 delivers once, immediately (reference §11.3).
EVENT_MAX_AGE = dt.timedelta(hours=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def route(hook: WebhookParser) -> Parser:
    """The app's parser for one endpoint: the adapter's rejection becomes the app's 4xx."""

    def parse(body: bytes, content_type: str) -> list[Hint]:
        try:
            return hook.parse(body, content_type, now=_now())
        except WebhookRejected as exc:
            raise HookRejected(exc.reason, exc.status) from None

    return parse


def build_routes(
    mapping: CompiledMapping,
    systems: Mapping[str, str],
    max_age: dt.timedelta | None = EVENT_MAX_AGE,
) -> HookRoutes:
    """``systems`` maps ``agency`` and each partner code to its adapter's ``system`` label."""
    agency_token = mapping.agency.connection.application_token
    agency: Parser | None = None
    if agency_token:
        agency = route(BitrixWebhook(agency_token, systems["agency"], max_age))
    amocrm: dict[str, tuple[Secret, Parser]] = {}
    bitrix: dict[str, Parser] = {}
    for code, partner in mapping.partners.items():
        if code not in systems:
            continue
        secret = _hook_secret(partner.connection)
        if partner.connection.kind is CrmKind.AMOCRM and secret is not None:
            # The app compares the path secret before it calls the parser.
            amocrm[code] = (secret, route(AmoWebhook(systems[code])))
        elif partner.connection.kind is CrmKind.BITRIX24 and secret is not None:
            bitrix[code] = route(BitrixWebhook(secret, systems[code], max_age))
    return HookRoutes(agency=agency, amocrm=amocrm, bitrix_partners=bitrix)


def _hook_secret(connection: Connection) -> Secret | None:
    if connection.kind is CrmKind.AMOCRM:
        return connection.webhook_secret
    return connection.application_token


def hook_urls(public_url: str, connections: Mapping[str, Connection]) -> dict[str, str]:
    """Where each CRM should deliver events, keyed ``agency`` and partner code.

    amoCRM URLs carry their secret: show them only to the admin who registers them.
    """
    base = public_url.rstrip("/")
    urls = {}
    for label, connection in connections.items():
        secret = _hook_secret(connection)
        if label == "agency":
            urls[label] = f"{base}/hooks/bitrix24"
        elif connection.kind is CrmKind.AMOCRM and secret is not None:
            urls[label] = f"{base}/hooks/amocrm/{label}/{secret.reveal()}"
        elif connection.kind is CrmKind.BITRIX24:
            urls[label] = f"{base}/hooks/bitrix24/{label}"
    return urls
