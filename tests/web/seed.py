"""A store with two partners' deals, ledger, parked and held links, and a web app on it.

Everything alfa has is marked «АЛЬФА-…» and everything beta has «БЕТА-…», so a
page leaking the other partner's data shows it in plain text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from bridge.cabinet import requests as payout_requests
from bridge.canonical import synced_to_json
from bridge.channels.tables import ChannelFlagRow
from bridge.ledger import book
from bridge.ledger.entries import Entry, EntryKind
from bridge.mapping.compiled import CompiledMapping, Groups, Side
from bridge.model import LinkStatus
from bridge.secrets import Secret
from bridge.store import audit, links
from bridge.store.db import Store
from bridge.store.tables import AuditRow, LinkRow
from sync.web.context import WebContext, signing_key
from tests.engine.world import mapping as engine_mapping

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
ADMIN = "console-admin-token-0123456789abcdef"
PDF = b"%PDF-1.4\n% BETA-INVOICE-BYTES\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
ALFA_PDF = PDF.replace(b"BETA", b"ALFA")


def two_partner_mapping() -> CompiledMapping:
    base = engine_mapping()
    alfa = dataclasses.replace(
        base.partners["amo"],
        code="alfa",
        name="Веб-Студия Альфа",
        groups=Groups(segment="amoCRM-интеграторы", manager="Анна Смирнова", grade="gold"),
    )
    beta = dataclasses.replace(
        base.partners["b24"],
        code="beta",
        name="Digital Бета",
        groups=Groups(segment="Bitrix24-интеграторы", manager="Олег Петров"),
    )
    return dataclasses.replace(base, partners={"alfa": alfa, "beta": beta})


def _link(agency_id: str, code: str, partner_id: str, mark: str, status: LinkStatus) -> LinkRow:
    plain = {
        "title": f"{mark}-сделка {agency_id}",
        "client_name": f"{mark}-клиент",
        "client_phone": f"+7 900 {agency_id}-00-00",
        "client_email": f"{mark.lower()}{agency_id}@example.ru",
    }
    values = {k: (v, v) for k, v in plain.items()}
    return LinkRow(
        agency_deal_id=agency_id,
        partner_code=code,
        partner_deal_id=partner_id,
        status=status.value,
        synced_json=synced_to_json(values),
        agency_stage="C7:WORK",
        partner_stage="102" if code == "alfa" else "EXECUTING",
        agency_amount=Decimal("300000"),
        agency_currency="RUB",
        partner_updated_at=NOW - dt.timedelta(days=2),
        park_reason=f"{mark}: стадия «Переговоры» не сопоставлена"
        if status is LinkStatus.PARKED
        else None,
    )


def _entry(code: str, deal: str, cause: str, amount: str, payer: Side, days_ago: int) -> Entry:
    at = NOW - dt.timedelta(days=days_ago)
    return Entry(
        partner=code,
        deal_id=deal,
        cause=cause,
        kind=EntryKind.ACCRUAL,
        rule="percent_of_amount",
        amount=Decimal(amount),
        currency="RUB",
        payer=payer,
        occurred_at=at,
        payable_at=at + dt.timedelta(days=3),
        rate=Decimal("0.1"),
        base=Decimal(amount) * 10,
    )


def seed(store: Store) -> None:
    with store.transaction() as db:
        for row in (
            _link("1001", "alfa", "A-501", "АЛЬФА", LinkStatus.ACTIVE),
            _link("1002", "alfa", "A-502", "АЛЬФА", LinkStatus.PARKED),
            _link("2001", "beta", "B-701", "БЕТА", LinkStatus.ACTIVE),
            _link("2002", "beta", "B-702", "БЕТА", LinkStatus.PARKED),
        ):
            links.save(db, row, NOW)
        book.append(
            db,
            [
                _entry("alfa", "1001", "alfa-won", "11111.11", Side.AGENCY, 10),
                _entry("alfa", "1001", "alfa-extra", "1234.00", Side.AGENCY, 1),
                _entry("beta", "2001", "beta-won", "77777.77", Side.AGENCY, 10),
                _entry("beta", "2001", "beta-owes", "5555.55", Side.PARTNER, 20),
            ],
            NOW,
        )
        db.add(
            ChannelFlagRow(
                agency_deal_id="2003",
                partner_code="beta",
                flagged_at=NOW,
                held=True,
                detail="БЕТА-конфликт: клиент уже передан Альфе",
            )
        )
        audit.append(
            db,
            [
                AuditRow(
                    at=NOW,
                    agency_deal_id="2001",
                    partner_code="beta",
                    action="create",
                    side="partner",
                    changed_by="bridge",
                    new_value="B-701",
                    detail="БЕТА-сделка 2001",
                )
            ],
        )
        payout_requests.create(
            db, "beta", Decimal("1000.00"), "RUB", "beta.pdf", PDF, NOW, "БЕТА-запрос"
        )
        payout_requests.create(
            db, "alfa", Decimal("100.00"), "RUB", "alfa.pdf", ALFA_PDF, NOW, "АЛЬФА-запрос"
        )


def web_context(store: Store, clock: Callable[[], dt.datetime] | None = None) -> WebContext:
    mapping = two_partner_mapping()
    token = Secret(ADMIN)
    return WebContext(
        store=store,
        mapping=lambda: mapping,
        admin_token=token,
        key=signing_key(None, token),
        clock=(clock or (lambda: NOW)),
        stage_names=lambda: {
            "agency": {"C7:WORK": "В работе у партнёра"},
            "alfa": {"102": "Квалификация"},
            "beta": {"EXECUTING": "Квалификация"},
        },
    )
