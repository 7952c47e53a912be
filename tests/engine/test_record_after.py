"""What the ledger observes after a plan: the agency deal with every patched value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bridge.mapping.compiled import Side
from bridge.model import Deal, DealPatch, LinkState, Money
from sync.plan.types import LinkPlan, UpdateDeal
from sync.record import _after_writes

T = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_a_mirrored_custom_field_is_part_of_the_observed_agency_deal() -> None:
    agency = Deal(
        "37",
        "Сайт клиники",
        "1",
        "C1:EXECUTING",
        Money(Decimal(1), "RUB"),
        T,
        T,
        fields={"UF_CRM_PAID": None, "UF_CRM_BRIEF": "бриф"},
    )
    paid = Money(Decimal("250000"), "RUB")
    key = ("37", "alfa")
    patch = DealPatch("37", stage_id="C1:WON", fields={"UF_CRM_PAID": paid})
    plan = LinkPlan(key, (UpdateDeal(key, Side.AGENCY, patch),), (), LinkState("37", "alfa"))
    after, _ = _after_writes(plan, None, (agency, None))
    assert after is not None
    assert after.fields["UF_CRM_PAID"] == paid
    assert after.fields["UF_CRM_BRIEF"] == "бриф"
    assert after.stage_id == "C1:WON"
