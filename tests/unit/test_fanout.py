"""Who moves the shared agency deal under fan-out (sync/plan/fanout.py), with plain values."""

from __future__ import annotations

import datetime as dt

from bridge.model import Semantics
from sync.plan.fanout import FanOutRole, Member, leader, roles

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
