"""Build the webhook routes of the HTTP app from the compiled mapping.

Each route gets a parser closed over the credentials it checks (the agency's
outgoing-webhook application token, each amoCRM partner's path secret, each
Bitrix24 partner's token) and the ``system`` label its CRM adapter uses, so a
hint names exactly the account the engine will re-read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from bridge.amocrm import webhook as amo_webhook
from bridge.bitrix import webhook as bitrix_webhook
from bridge.mapping.compiled import CompiledMapping, Connection, CrmKind
from bridge.model import Hint
from bridge.secrets import Secret
from sync.runtime.app import HookRejected, HookRoutes, Parser

# Bitrix24 rejection reasons → the status that tells the sender the truth.
_BITRIX_STATUS = {"forbidden": 403, "too_large": 413}
# Older events are replays: Bitrix24 delivers once, immediately (reference §11.3).
EVENT_MAX_AGE = dt.timedelta(hours=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def bitrix_parser(
    token: Secret, system: str, max_age: dt.timedelta | None = EVENT_MAX_AGE
) -> Parser:
    def parse(body: bytes, content_type: str) -> list[Hint]:
        try:
            hint = bitrix_webhook.parse_event(
                body,
                content_type=content_type,
                application_token=token,
                system=system,
                received_at=_now(),
                max_age=max_age,
            )
        except bitrix_webhook.WebhookRejected as exc:
            raise HookRejected(exc.reason, _BITRIX_STATUS.get(exc.reason, 400)) from None
        return [hint]

    return parse


def amocrm_parser(secret: Secret, system: str) -> Parser:
    def parse(body: bytes, content_type: str) -> list[Hint]:
        if content_type != "application/x-www-form-urlencoded":
            raise HookRejected("amoCRM webhooks are form-encoded", 415)
        try:
            return amo_webhook.parse_webhook(
                body,
                expected_secret=secret,
                presented_secret=secret.reveal(),  # the app compared the path secret already
                system=system,
                received_at=_now(),
            )
        except amo_webhook.WebhookRejected as exc:
            raise HookRejected(str(exc)) from None

    return parse


def build_routes(
    mapping: CompiledMapping,
    systems: Mapping[str, str],
    max_age: dt.timedelta | None = EVENT_MAX_AGE,
) -> HookRoutes:
    """``systems`` maps ``agency`` and each partner code to its adapter's ``system`` label."""
    agency_token = mapping.agency.connection.application_token
    agency = bitrix_parser(agency_token, systems["agency"], max_age) if agency_token else None
    amocrm: dict[str, tuple[Secret, Parser]] = {}
    bitrix: dict[str, Parser] = {}
    for code, partner in mapping.partners.items():
        if code not in systems:
            continue
        secret = _hook_secret(partner.connection)
        if partner.connection.kind is CrmKind.AMOCRM and secret is not None:
            amocrm[code] = (secret, amocrm_parser(secret, systems[code]))
        elif partner.connection.kind is CrmKind.BITRIX24 and secret is not None:
            bitrix[code] = bitrix_parser(secret, systems[code], max_age)
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
