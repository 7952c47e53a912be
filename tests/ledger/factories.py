"""Small builders shared by the ledger tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bridge.ledger.rules import DealObservation
from bridge.mapping.compiled import Commission, CommissionRule, FieldEnd, RuleKind, Side, Target
from bridge.model import Money, Semantics

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
OPEN, WON, LOST = Semantics.OPEN, Semantics.WON, Semantics.LOST
FEE_FIELD = FieldEnd(Target.CUSTOM, "fee", field_id="UF_CRM_FEE")
PAID_FIELD = FieldEnd(Target.CUSTOM, "paid", field_id="UF_CRM_PAID")


def rub(amount: str | int) -> Money:
    return Money(Decimal(amount), "RUB")


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def obs(
    day: float,
    stage: Semantics,
    amount: str | int | None = None,
    *,
    fee: str | int | None = None,
    paid: str | int | None = None,
    deal: str = "101",
    partner: str = "alfa",
) -> DealObservation:
    return DealObservation(
        agency_deal_id=deal,
        partner_code=partner,
        observed_at=at(day),
        stage=stage,
        amount=None if amount is None else rub(amount),
        fee=None if fee is None else rub(fee),
        paid=None if paid is None else rub(paid),
    )


def of_amount(rate: str = "0.25", due_days: int = 0, hold_days: int = 0) -> CommissionRule:
    return CommissionRule(
        RuleKind.PERCENT_OF_AMOUNT,
        Decimal(rate),
        Side.PARTNER,
        "RUB",
        due_days=due_days,
        hold_days=hold_days,
    )


def of_fee(rate: str = "0.10", due_days: int = 0, hold_days: int = 0) -> CommissionRule:
    return CommissionRule(
        RuleKind.PERCENT_OF_FEE, Decimal(rate), Side.AGENCY, "RUB", FEE_FIELD, due_days, hold_days
    )


def of_payments(rate: str = "0.40", due_days: int = 3, hold_days: int = 0) -> CommissionRule:
    return CommissionRule(
        RuleKind.PERCENT_OF_PAYMENTS,
        Decimal(rate),
        Side.PARTNER,
        "RUB",
        PAID_FIELD,
        due_days=due_days,
        hold_days=hold_days,
    )


def commission(*rules: CommissionRule, membership: Money | None = None) -> Commission:
    return Commission(rules=rules, membership_fee=membership)
