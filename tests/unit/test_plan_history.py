"""Worked examples: a partner's first connection hands over open deals only.

The engine passes each partner's start (its first sync) in ``PartnerExtras``; the pure
planner keeps agency deals already won or lost and created before it as history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from bridge.mapping.compiled import Policies
from bridge.model import HISTORY_KEY, Deal, LinkStatus
from sync.first_sync import handover_lines
from sync.plan import plan_agency_deal
from sync.plan.history import cutoff
from sync.plan.types import CloseLink, CreatePartnerDeal, LinkPlan, Operation, PartnerExtras
from tests.unit.test_plan_helpers import (
    AGENCY,
    PARTNER_PIPELINE,
    T0,
    Sides,
    agency_deal,
    partner_deal,
    world,
)

START = T0 + dt.timedelta(days=30)  # the partner's first sync
OLD = T0  # created a month before it


def _plan(deal: Deal, policy: str | dt.date = "open", found: Deal | None = None) -> list[LinkPlan]:
    mapping = world(policies=dataclasses.replace(Policies(), history=policy))
    extras = {"atwinta": PartnerExtras(pipeline=PARTNER_PIPELINE, started_at=START)}
    return plan_agency_deal(
        deal,
        {},
        {"atwinta": found},
        mapping,
        now=START,
        agency=AGENCY,
        partners=extras,
    )


def _ops(plans: Sequence[LinkPlan]) -> list[Operation]:
    return [op for p in plans for op in p.operations]


def test_a_deal_won_before_the_start_is_recorded_not_handed_over() -> None:
    (plan,) = _plan(agency_deal(stage_id="C5:WON", created_at=OLD, updated_at=OLD))
    (close,) = plan.operations
    assert isinstance(close, CloseLink) and close.history
    assert plan.next_state.status is LinkStatus.CLOSED
    reason = plan.next_state.park_reason or ""
    assert plan.next_state.synced[HISTORY_KEY] == reason  # the store keeps it there
    assert reason.startswith("won before the partner's first sync (created 2026-03-02)")
    assert "not handed over to 'atwinta', no commission (policies.history: open)" in reason


def test_a_lost_deal_is_history_too_and_an_open_one_is_handed_over() -> None:
    (lost,) = _plan(agency_deal(stage_id="C5:JUNK", created_at=OLD, updated_at=OLD))
    assert (lost.next_state.park_reason or "").startswith("lost before")
    (open_,) = _plan(agency_deal(stage_id="C5:WORK", created_at=OLD, updated_at=OLD))
    assert [type(op) for op in open_.operations] == [CreatePartnerDeal]


def test_a_deal_created_after_the_start_is_handed_over_even_if_already_won() -> None:
    later = START + dt.timedelta(minutes=5)
    (plan,) = _plan(agency_deal(stage_id="C5:WON", created_at=later, updated_at=later))
    assert [type(op) for op in plan.operations] == [CreatePartnerDeal]


def test_history_all_and_a_date_opt_into_history() -> None:
    won = agency_deal(stage_id="C5:WON", created_at=OLD, updated_at=OLD)
    assert [type(op) for op in _ops(_plan(won, "all"))] == [CreatePartnerDeal]
    assert [type(op) for op in _ops(_plan(won, OLD.date()))] == [CreatePartnerDeal]
    (kept,) = _plan(won, (OLD + dt.timedelta(days=1)).date())
    assert "before 2026-03-03" in (kept.next_state.park_reason or "")
    assert "(policies.history: 2026-03-03)" in (kept.next_state.park_reason or "")


def test_a_date_after_the_start_never_holds_back_more_than_the_start() -> None:
    assert cutoff((START + dt.timedelta(days=10)).date(), START) == START
    assert cutoff("open", START) == START and cutoff("all", START) is None
    assert cutoff("open", None) is None  # no start known: nothing held back


def test_a_stamped_partner_deal_is_adopted_not_treated_as_history() -> None:
    sides = Sides(agency_deal())
    sides.run(world())
    found = partner_deal(sides)
    won = agency_deal(stage_id="C5:WON", created_at=OLD, updated_at=OLD)
    (plan,) = _plan(won, found=found)
    assert not any(isinstance(op, CloseLink) for op in plan.operations)
    assert plan.next_state.partner_deal_id == found.id


def test_recorded_history_plans_nothing_the_next_time_and_editing_it_leaks_nothing() -> None:
    won = agency_deal(stage_id="C5:WON", created_at=OLD, updated_at=OLD)
    (first,) = _plan(won)
    state = first.next_state
    edited = dataclasses.replace(won, title="Правка", updated_at=START + dt.timedelta(days=3))
    mapping = world()
    extras = {"atwinta": PartnerExtras(pipeline=PARTNER_PIPELINE, started_at=START)}
    stored = dataclasses.replace(state, park_reason=None)  # the store keeps no closed reason
    (again,) = plan_agency_deal(
        edited,
        {"atwinta": stored},
        {"atwinta": None},
        mapping,
        now=START,
        agency=AGENCY,
        partners=extras,
    )
    assert again.operations == () and not again.state_changed


def test_a_reopened_deal_is_open_again_and_handed_over() -> None:
    won = agency_deal(stage_id="C5:WON", created_at=OLD, updated_at=OLD)
    (first,) = _plan(won)
    reopened = dataclasses.replace(won, stage_id="C5:WORK")
    extras = {"atwinta": PartnerExtras(pipeline=PARTNER_PIPELINE, started_at=START)}
    (plan,) = plan_agency_deal(
        reopened,
        {"atwinta": first.next_state},
        {"atwinta": None},
        world(),
        now=START,
        agency=AGENCY,
        partners=extras,
    )
    assert [type(op) for op in plan.operations] == [CreatePartnerDeal]


def test_the_dry_run_summary_counts_what_goes_out_and_what_stays() -> None:
    plans = [
        *_plan(agency_deal(id="1", stage_id="C5:WORK", created_at=OLD, updated_at=OLD)),
        *_plan(agency_deal(id="2", stage_id="C5:WON", created_at=OLD, updated_at=OLD)),
        *_plan(agency_deal(id="3", stage_id="C5:LOSE", created_at=OLD, updated_at=OLD)),
    ]
    lines = handover_lines(plans, world(), ["atwinta", "kodix"], ["atwinta"])
    assert lines == [
        "atwinta (first sync): 1 open deal will be handed over; 2 closed deals recorded,"
        " not handed over (history: open)",
        "kodix: 0 open deals would be handed over; 0 closed deals recorded, not handed over"
        " (history: open)",
    ]
