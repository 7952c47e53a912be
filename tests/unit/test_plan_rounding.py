"""Amount precision per CRM as the admin chooses it (``policies.round``): pure logic."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bridge.mapping.compiled import Connection, CrmKind, FieldEnd, PartnerConfig, Policies, Target
from bridge.model import Money
from bridge.secrets import Secret
from sync.plan.money import MoneySlot, amount_reasons
from sync.plan.rounding import ROUNDED, Rounding, round_for_partner, rounded, rounding_entry
from tests.unit.test_plan_helpers import world

AMO = Connection(CrmKind.AMOCRM, Secret("https://alfa.example.invalid"))


@pytest.mark.parametrize(
    ("amount", "kind", "mode", "expected"),
    [
        ("15000.50", CrmKind.AMOCRM, Rounding.DOWN, "15000"),
        ("15000.50", CrmKind.AMOCRM, Rounding.NEAREST, "15001"),
        ("15000.49", CrmKind.AMOCRM, Rounding.NEAREST, "15000"),
        ("-7.5", CrmKind.AMOCRM, Rounding.DOWN, "-7"),  # towards zero
        ("15000.50", CrmKind.AMOCRM, Rounding.PARK, "15000.50"),  # never silently
        ("99.999", CrmKind.BITRIX24, Rounding.DOWN, "99.99"),
        ("15000", CrmKind.AMOCRM, Rounding.DOWN, "15000"),
        ("1E+40", CrmKind.BITRIX24, Rounding.NEAREST, "1E+40"),  # too large: the size check parks
    ],
)
def test_rounded(amount: str, kind: CrmKind, mode: Rounding, expected: str) -> None:
    assert str(rounded(Decimal(amount), kind, mode)) == expected


def _alfa(mode: str) -> PartnerConfig:
    base = world().partners["atwinta"]
    policies = dataclasses.replace(Policies(), amount_rounding=mode)
    return dataclasses.replace(base, connection=AMO, policies=policies)


def test_only_a_chosen_policy_rounds_and_each_rounding_is_one_audit_line() -> None:
    exact = Money(Decimal("15000.50"), "RUB")
    park, down = _alfa("park"), _alfa("down")
    assert round_for_partner(park, exact) == exact
    sent = round_for_partner(down, exact)
    assert sent == Money(Decimal(15000), "RUB")
    entry = rounding_entry(("7", "atwinta"), "@amount", down, exact, sent)
    assert entry is not None and entry.action == ROUNDED
    assert (entry.old, entry.new) == (exact, sent)
    assert "rounded down to 15000 RUB" in (entry.detail or "")
    assert rounding_entry(("7", "atwinta"), "@amount", down, sent, sent) is None


def test_amount_reasons_park_kopecks_for_amocrm_unless_rounding_is_chosen() -> None:
    end = FieldEnd(Target.AMOUNT, "amount")
    slots = [MoneySlot("@amount", end, end)]
    exact, whole = Money(Decimal("15000.50"), "RUB"), Money(Decimal(15000), "RUB")
    parked = amount_reasons(_alfa("park"), slots, {"@amount": (exact, exact)})
    assert parked and "amoCRM keeps a budget as a whole number" in parked[0]
    assert amount_reasons(_alfa("down"), slots, {"@amount": (exact, whole)}) == ()
    too_big = Money(Decimal("3000000000.5"), "RUB")
    still = amount_reasons(_alfa("down"), slots, {"@amount": (too_big, too_big)})
    assert still and "amoCRM keeps a budget up to" in still[0]
