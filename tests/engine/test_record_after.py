"""What the ledger observes after a plan: the agency deal with every patched value."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from bridge.mapping.compiled import Side
from bridge.model import Deal, DealPatch, LinkState, Money
from sync.plan.types import LinkPlan, UpdateDeal
from sync.record import _after_writes, _with

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


def test_the_record_steps_copies_equal_dataclasses_replace() -> None:
    agency = Deal("37", "Сайт", "1", "C1:NEW", None, T, T, fields={"UF_CRM_BRIEF": "бриф"})
    state = LinkState("37", "alfa", synced={"title": "Сайт"}, agency_updated_at=T)
    copied = _with(state, partner_deal_id="9")
    assert copied == dataclasses.replace(state, partner_deal_id="9")
    assert copied.synced is state.synced and state.partner_deal_id is None
    changes: dict[str, Any] = {"id": "9", "stage_id": "71", "fields": MappingProxyType({})}
    assert _with(agency, **changes) == dataclasses.replace(agency, **changes)
    with pytest.raises(TypeError, match="no \\['colour'\\]"):
        _with(agency, colour="red")
