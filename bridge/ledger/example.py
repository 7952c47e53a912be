"""The example statement in ``docs/``: demo deals run through the real ledger path.

Deal titles and amounts follow the sandbox's demo seed. The histories go through
:func:`~bridge.ledger.observations.observe` one observation at a time, as the sync
engine feeds them, into a fresh SQLite store migrated like production; the entries
are read back and rendered, so the picture in ``docs/`` is what the code produces,
not a mock-up. Time is fixed, so the output is stable.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

from bridge.ledger import book
from bridge.ledger.entries import Entry
from bridge.ledger.observations import observe
from bridge.ledger.rules import DealObservation, membership_entries, payout_entry
from bridge.ledger.statement import Period, Statement, build_statement
from bridge.mapping.compiled import Commission, CommissionRule, FieldEnd, RuleKind, Side, Target
from bridge.model import Money, Semantics

PARTNER = "webpartner"
PARTNER_NAME = "ООО «Веб-Партнёр»"
AGENCY_NAME = "Агентство «Северный ветер»"
PERIOD = "2026-11"
NOW = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC)
TITLES = {
    "101": "Редизайн корпоративного портала",
    "102": "Сайт для стоматологии «Улыбка»",
    "103": "Интернет-магазин автозапчастей",
}
COMMISSION = Commission(
    rules=(
        CommissionRule(
            RuleKind.PERCENT_OF_PAYMENTS,
            Decimal("0.40"),
            Side.PARTNER,
            "RUB",
            FieldEnd(Target.CUSTOM, "Оплачено клиентом", "UF_CRM_PAID"),
            due_days=3,
        ),
        CommissionRule(
            RuleKind.PERCENT_OF_FEE,
            Decimal("0.10"),
            Side.AGENCY,
            "RUB",
            FieldEnd(Target.CUSTOM, "Вознаграждение агентства", "UF_CRM_FEE"),
            due_days=10,
        ),
    ),
    membership_fee=Money(Decimal(50000), "RUB"),
)


def _rub(amount: int | None) -> Money | None:
    return None if amount is None else Money(Decimal(amount), "RUB")


def _obs(
    deal: str, day: str, stage: Semantics, paid: int | None, fee: int | None
) -> DealObservation:
    at = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    return DealObservation(deal, PARTNER, at, stage, _rub(None), _rub(fee), _rub(paid))


OPEN, WON = Semantics.OPEN, Semantics.WON
HISTORIES = {
    "101": [
        _obs("101", "2026-10-14T10:00", WON, 500_000, 300_000),
        _obs("101", "2026-11-05T12:30", WON, 700_000, 300_000),
        _obs("101", "2026-11-20T09:15", WON, 1_200_000, 300_000),
    ],
    "102": [
        _obs("102", "2026-11-03T11:00", WON, 225_000, 45_000),
        _obs("102", "2026-11-24T16:40", WON, 150_000, 45_000),
    ],
    "103": [
        _obs("103", "2026-11-05T15:00", WON, None, 78_000),
        _obs("103", "2026-11-18T10:20", OPEN, None, 78_000),
    ],
}


def _others() -> list[Entry]:
    fee = COMMISSION.membership_fee
    assert fee is not None
    membership = membership_entries(PARTNER, fee, since=dt.date(2026, 1, 1), until=NOW.date())
    payouts = [
        payout_entry(
            PARTNER,
            Money(Decimal(200_000), "RUB"),
            payer=Side.PARTNER,
            at=dt.datetime(2026, 10, 28, tzinfo=dt.UTC),
            ref="п/п № 1842",
        ),
        payout_entry(
            PARTNER,
            Money(Decimal(120_000), "RUB"),
            payer=Side.PARTNER,
            at=dt.datetime(2026, 11, 10, tzinfo=dt.UTC),
            ref="п/п № 1907",
        ),
        payout_entry(
            PARTNER,
            Money(Decimal(30_000), "RUB"),
            payer=Side.AGENCY,
            at=dt.datetime(2026, 11, 12, tzinfo=dt.UTC),
            ref="п/п № 77",
        ),
    ]
    return membership + payouts


def example_statement() -> Statement:
    """Book the demo histories into a fresh store and build November's statement."""
    from bridge.store.db import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'example.db'}")
        try:
            with store.transaction() as session:
                for history in HISTORIES.values():
                    for obs in history:
                        observe(session, obs, COMMISSION, NOW)
                book.append(session, _others(), NOW)
            with store.transaction() as session:
                entries = book.read(session, partner=PARTNER)
        finally:
            store.close()
    return build_statement(
        entries,
        PARTNER,
        Period.parse(PERIOD),
        NOW,
        partner_name=PARTNER_NAME,
        agency_name=AGENCY_NAME,
    )
