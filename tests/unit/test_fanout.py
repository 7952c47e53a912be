"""Who moves the shared agency deal under fan-out (sync/plan/fanout.py), with plain values."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bridge.mapping.compiled import CompiledMapping, FanOut, Policies
from bridge.model import LinkStatus, Semantics
from sync.plan.fanout import FanOutRole, Member, leader, roles
from sync.plan.types import CloseLink, CreatePartnerDeal
from tests.unit.test_plan_helpers import (
    ROUTING,
    Sides,
    agency_deal,
    edit,
    partner_deal,
    world,
    writes,
)

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
OPEN, WON, LOST = Semantics.OPEN, Semantics.WON, Semantics.LOST


def member(code: str, outcome: Semantics, rank: int = 0, minutes: int = 0) -> Member:
    return Member(code, outcome, rank, T0 + dt.timedelta(minutes=minutes), won_before=False)


def test_the_most_advanced_open_partner_leads_and_a_lost_one_never_does() -> None:
    group = [member("amo", OPEN, rank=1), member("b24", LOST, rank=3, minutes=5)]
    assert leader(group, "most_advanced") == "amo"
    group = [member("amo", OPEN, rank=1), member("b24", OPEN, rank=2)]
    assert leader(group, "most_advanced") == "b24"
    assert leader(group, "won_only") is None


def test_a_tie_goes_to_the_latest_edit() -> None:
    group = [member("amo", OPEN, rank=2, minutes=9), member("b24", OPEN, rank=2, minutes=1)]
    assert leader(group, "most_advanced") == "amo"


def test_the_first_winner_leads_even_after_another_wins_later() -> None:
    first = Member("b24", WON, 3, T0 + dt.timedelta(minutes=9), won_before=True)
    group = [member("amo", WON, rank=3, minutes=1), first]
    assert leader(group, "won_only") == "b24"


def test_lost_only_when_every_partner_lost_and_then_the_last_to_lose_leads() -> None:
    group = [member("amo", LOST, minutes=1), member("b24", LOST, minutes=7)]
    assert leader(group, "most_advanced") == "b24"


def test_roles_lock_every_other_link_and_tell_open_ones_who_won() -> None:
    group = [member("amo", WON), member("b24", LOST), member("uis", OPEN)]
    assert roles(group, "most_advanced") == {
        "amo": FanOutRole(locked=False),
        "b24": FanOutRole(locked=True),
        "uis": FanOutRole(locked=True, winner="amo"),
    }
    assert roles([member("amo", OPEN)], "most_advanced") == {}  # one partner: no fan-out


def _with_policies(mapping: CompiledMapping, code: str, fan_out: FanOut) -> CompiledMapping:
    config = dataclasses.replace(mapping.partners[code], policies=Policies(fan_out=fan_out))
    return dataclasses.replace(mapping, partners={**mapping.partners, code: config})


def test_on_win_close_moves_the_other_partner_to_its_lost_stage_once() -> None:
    mapping = _with_policies(world(), "kodix", FanOut(on_win="close"))
    sides = Sides(agency_deal(fields={ROUTING: ("11", "12")}))
    sides.run(mapping)
    sides.partners["atwinta"] = edit(partner_deal(sides), sides.tick(), stage_id="142")
    sides.run(mapping)
    assert sides.agency.stage_id == "C5:WON"
    assert partner_deal(sides, "kodix").stage_id == "143"
    (note,) = sides.partner_notes["kodix"]
    assert "закрыта агентством" in note.text
    outcomes = {code: link.outcome for code, link in sides.links.items()}
    assert outcomes == {"atwinta": WON, "kodix": LOST}
    assert writes(sides.run(mapping)) == []  # told once
    assert sides.agency.stage_id == "C5:WON"  # the closed partner does not write it


def test_a_re_routed_link_closes_with_its_reason_and_the_old_deal_is_closed() -> None:
    mapping = _with_policies(world(), "atwinta", FanOut(on_reroute="close"))
    sides = Sides(agency_deal(fields={ROUTING: ("11",)}))
    sides.run(mapping)
    sides.agency = edit(sides.agency, sides.tick(), fields={ROUTING: ("12",)})
    plans = {p.link_key[1]: p for p in sides.run(mapping)}
    (close,) = [op for op in plans["atwinta"].operations if isinstance(op, CloseLink)]
    assert close.reason == "re-routed to kodix" and close.rerouted_to == ("kodix",)
    assert sides.links["atwinta"].status is LinkStatus.CLOSED
    assert partner_deal(sides, "atwinta").stage_id == "143"
    assert any(isinstance(op, CreatePartnerDeal) for op in plans["kodix"].operations)
    assert writes(sides.run(mapping)) == []
