"""Worked examples: money that cannot be right parks the link, nothing is written or booked.

Through the pure planner (no store, no HTTP): a cumulative paid field that jumps, goes
negative or falls; amounts a CRM cannot hold exactly; a negative deal amount; and
``bridge retry --confirm`` letting exactly the confirmed value through.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bridge.mapping.compiled import (
    Commission,
    CommissionRule,
    CompiledMapping,
    Connection,
    CrmKind,
    FieldEnd,
    Policies,
    RuleKind,
    Side,
    Target,
)
from bridge.model import LinkState, LinkStatus, Money
from bridge.secrets import Secret
from sync.plan.money import (
    CONFIRM_KEY,
    PAID_KEY,
    REFUSED_KEY,
    amount_text,
    unholdable,
)
from sync.plan.types import CreatePartnerDeal, LinkPlan, Park
from tests.unit.test_plan_helpers import Sides, agency_deal, edit, partner_deal, world, writes

PAID_RULE = CommissionRule(
    RuleKind.PERCENT_OF_PAYMENTS,
    Decimal("0.4"),
    Side.PARTNER,
    "RUB",
    source_field=FieldEnd(Target.CUSTOM, "Оплачено", "UF_CRM_PAID"),
    due_days=3,
)


def _mapping(policies: Policies | None = None) -> CompiledMapping:
    return world(
        commission=Commission(rules=(PAID_RULE,)),
        policies=policies or Policies(),
    )


def _paid(sides: Sides, mapping: CompiledMapping, value: str) -> list[LinkPlan]:
    """The partner types ``value`` into its paid field (5003); one pass."""
    deal = partner_deal(sides)
    sides.partners["atwinta"] = edit(deal, sides.tick(), {"5003": value})
    return sides.run(mapping)


def _link(sides: Sides) -> LinkState:
    return sides.links["atwinta"]


def test_the_paid_sequence_of_issue_16_parks_instead_of_booking() -> None:
    mapping = _mapping()
    sides = Sides(agency_deal(amount=Money(Decimal(320_000), "RUB")))
    sides.run(mapping)
    _paid(sides, mapping, "100000")
    link = sides.links["atwinta"]
    assert link.status is LinkStatus.ACTIVE
    assert link.synced[PAID_KEY] == Money(Decimal(100_000), "RUB")
    assert sides.agency.fields["UF_CRM_PAID"] == Money(Decimal(100_000), "RUB")

    plans = _paid(sides, mapping, "1000000000")
    link = sides.links["atwinta"]
    assert writes(plans) == []  # the agency's paid field keeps 100 000: nothing to book from
    assert link.status is LinkStatus.PARKED
    assert "jumped to 1 000 000 000 RUB (+999 900 000)" in (link.park_reason or "")
    assert "2 × the deal amount 320 000" in (link.park_reason or "")
    assert "bridge retry <link id> --confirm" in (link.park_reason or "")
    assert link.synced[REFUSED_KEY] == "1000000000 RUB"
    assert sides.agency.fields["UF_CRM_PAID"] == Money(Decimal(100_000), "RUB")

    plans = _paid(sides, mapping, "-5000")
    link = sides.links["atwinta"]
    assert writes(plans) == [] and link.status is LinkStatus.PARKED
    assert "is -5 000 RUB: a paid total cannot be negative" in (link.park_reason or "")
    assert link.synced[PAID_KEY] == Money(Decimal(100_000), "RUB")  # what was booked


def test_a_paid_total_that_falls_below_what_was_booked_parks() -> None:
    mapping = _mapping()
    sides = Sides(agency_deal())
    sides.run(mapping)
    _paid(sides, mapping, "200000")
    _paid(sides, mapping, "150000")
    link = sides.links["atwinta"]
    assert link.status is LinkStatus.PARKED
    assert "fell to 150 000 RUB, below the 200 000 already booked" in (link.park_reason or "")


def test_fixing_the_field_unparks_by_itself() -> None:
    mapping = _mapping()
    sides = Sides(agency_deal())
    sides.run(mapping)
    _paid(sides, mapping, "100000")
    _paid(sides, mapping, "100000000")
    assert sides.links["atwinta"].status is LinkStatus.PARKED
    _paid(sides, mapping, "250000")  # the partner corrects a typo
    link = sides.links["atwinta"]
    assert link.status is LinkStatus.ACTIVE and link.park_reason is None
    assert link.synced[PAID_KEY] == Money(Decimal(250_000), "RUB")
    assert sides.agency.fields["UF_CRM_PAID"] == Money(Decimal(250_000), "RUB")
    assert REFUSED_KEY not in link.synced


def test_a_confirmed_value_goes_through_once_and_another_value_is_checked_afresh() -> None:
    mapping = _mapping()
    sides = Sides(agency_deal())
    sides.run(mapping)
    _paid(sides, mapping, "100000")
    _paid(sides, mapping, "1000000")  # +900 000 > 2 × 300 000
    link = sides.links["atwinta"]
    assert link.status is LinkStatus.PARKED
    # bridge retry ID --confirm: the refused value becomes the confirmed one.
    sides.links["atwinta"] = dataclasses.replace(
        link, synced={**link.synced, CONFIRM_KEY: link.synced[REFUSED_KEY]}
    )
    sides.run(mapping)
    link = sides.links["atwinta"]
    assert link.status is LinkStatus.ACTIVE
    assert sides.agency.fields["UF_CRM_PAID"] == Money(Decimal(1_000_000), "RUB")
    assert CONFIRM_KEY not in link.synced  # used once
    _paid(sides, mapping, "5000000")  # a new jump is not covered by the old confirmation
    assert sides.links["atwinta"].status is LinkStatus.PARKED


def test_the_jump_factor_comes_from_the_mapping() -> None:
    mapping = _mapping(Policies(max_payment_jump=Decimal(5)))
    sides = Sides(agency_deal())  # amount 300 000
    sides.run(mapping)
    _paid(sides, mapping, "1400000")  # ≤ 5 × 300 000
    assert sides.status() is LinkStatus.ACTIVE
    _paid(sides, mapping, "2900001")  # +1 500 001 > 5 × 300 000
    assert sides.status() is LinkStatus.PARKED


def test_an_amount_no_crm_can_hold_exactly_is_parked_before_create() -> None:
    huge = Money(Decimal("99999999999999999999.99"), "RUB")
    sides = Sides(agency_deal(amount=huge))
    plans = sides.run(world())
    assert not any(isinstance(op, CreatePartnerDeal) for op in writes(plans))
    link = sides.links["atwinta"]
    assert link.status is LinkStatus.PARKED
    reason = link.park_reason or ""
    assert "99999999999999999999.99" in reason and "nothing is rounded" in reason
    assert "Bitrix24 keeps an amount as a double: below 10^15" in reason


def test_kopecks_cannot_go_to_an_amocrm_budget_but_can_go_to_bitrix24() -> None:
    amount = Money(Decimal("1500.50"), "RUB")
    sides = Sides(agency_deal(amount=amount))
    sides.run(world())
    assert sides.links["atwinta"].status is LinkStatus.PARKED
    assert "whole number" in (sides.links["atwinta"].park_reason or "")
    b24 = Connection(CrmKind.BITRIX24, Secret("https://b24.example.invalid/rest/1/x/"))
    sides = Sides(agency_deal(amount=amount))
    sides.run(world(connection=b24))
    assert sides.links["atwinta"].status is LinkStatus.ACTIVE
    assert partner_deal(sides).amount == amount


def test_a_negative_amount_from_the_partner_parks_and_is_not_mirrored() -> None:
    sides = Sides(agency_deal())
    sides.run(world())
    deal = partner_deal(sides)
    sides.partners["atwinta"] = edit(deal, sides.tick(), amount=Money(Decimal(-10), "RUB"))
    plans = sides.run(world())
    assert writes(plans) == []
    assert [type(op) for p in plans for op in p.operations] == [Park]
    assert "deal amount is -10: a deal amount cannot be negative" in (
        sides.links["atwinta"].park_reason or ""
    )
    assert sides.agency.amount == Money(Decimal("300000.00"), "RUB")


@pytest.mark.parametrize(
    ("amount", "kind", "refused"),
    [
        ("999999999999999", CrmKind.BITRIX24, None),
        ("9999999999999.99", CrmKind.BITRIX24, None),
        ("1000000000000000", CrmKind.BITRIX24, "below 10^15"),
        ("12345678901234.56", CrmKind.BITRIX24, "15 significant digits"),
        ("10.005", CrmKind.BITRIX24, "2 decimals"),
        ("2147483647", CrmKind.AMOCRM, None),
        ("2147483648", CrmKind.AMOCRM, "up to 2 147 483 647"),
        ("10.5", CrmKind.AMOCRM, "whole number"),
    ],
)
def test_what_each_crm_holds_exactly(amount: str, kind: CrmKind, refused: str | None) -> None:
    why = unholdable(Decimal(amount), kind, is_price=True)
    assert (why is None) if refused is None else (why is not None and refused in why)


def test_amounts_read_as_a_person_writes_them() -> None:
    assert amount_text(Decimal("1000000000")) == "1 000 000 000"
    assert amount_text(Decimal("-5000.50")) == "-5 000.5"
