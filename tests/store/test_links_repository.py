"""The links repository speaks LinkState; one applied plan is recorded in one call."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from bridge.model import Deal, Hint, HintKind, LinkState, LinkStatus, Money
from bridge.store import applied, audit, inbox, intents, links
from bridge.store.applied import AppliedLink
from bridge.store.audit import AuditEvent
from bridge.store.db import Store
from bridge.store.intents import IntentState

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)


def _deal(deal_id: str, stage: str, amount: str | None) -> Deal:
    return Deal(
        id=deal_id,
        title="Поставка",
        pipeline_id="1",
        stage_id=stage,
        amount=Money(Decimal(amount), "RUB") if amount else None,
        created_at=NOW,
        updated_at=NOW,
    )


BASE = LinkState(
    agency_deal_id="10",
    partner_code="alfa",
    partner_deal_id="500",
    status=LinkStatus.ACTIVE,
    synced={"@amount": (Money(Decimal("1.10"), "RUB"), Money(Decimal("1.10"), "RUB"))},
    written_partner="abc",
    agency_updated_at=NOW,
)


def _state(**changes: Any) -> LinkState:
    return dataclasses.replace(BASE, **changes)


def test_a_saved_state_loads_back_equal(store: Store) -> None:
    state = _state(synced={"@title": ("Сделка", "Сделка"), "f": (Decimal("1.10"), None)})
    with store.transaction() as session:
        links.save_state(session, state, (None, None), NOW, new=True)
    with store.transaction() as session:
        assert links.states(session, ["10"]) == [state]
        assert links.states_for(session, "alfa", [LinkStatus.ACTIVE]) == [state]
        assert links.states_for(session, "alfa", [LinkStatus.PARKED]) == []
        assert links.agency_ids_of(session, "alfa", ["500", "501"]) == {"10"}


def test_seen_deals_are_remembered_and_a_missing_side_keeps_its_last(store: Store) -> None:
    with store.transaction() as session:
        seen = (_deal("10", "NEW", "300.00"), _deal("500", "142", "300.00"))
        links.save_state(session, _state(), seen, NOW, new=True)
    with store.transaction() as session:
        links.save_state(session, _state(), (_deal("10", "WON", None), None), LATER, new=False)
    with store.transaction() as session:
        (stored,) = links.stored(session, ["10"])
    assert (stored.agency_stage, stored.agency_amount) == ("WON", None)
    assert (stored.partner_stage, stored.partner_amount) == ("142", Money(Decimal("300.00"), "RUB"))
    assert (stored.created_at, stored.updated_at) == (NOW, LATER)


def test_a_new_link_is_inserted_once(store: Store) -> None:
    with store.transaction() as session:
        links.save_state(session, _state(), (None, None), NOW, new=True)
    with pytest.raises(IntegrityError), store.transaction() as session:
        links.save_state(session, _state(), (None, None), NOW, new=True)


def test_parking_stamps_the_time_and_unparking_clears_it(store: Store) -> None:
    parked = _state(status=LinkStatus.PARKED, park_reason="no stage «Оплата»")
    with store.transaction() as session:
        links.save_state(session, parked, (None, None), NOW, new=True)
    with store.transaction() as session:
        (link,) = links.parked_links(session)
    assert (link.state, link.parked_at) == (parked, NOW)
    with store.transaction() as session:
        links.save_state(session, _state(), (None, None), LATER, new=False)
        assert links.parked_links(session) == []


def test_one_call_records_state_audit_and_intent(store: Store) -> None:
    with store.transaction() as session:
        intents.record(session, "alfa", [("10", "10")], NOW)
    event = AuditEvent(NOW, "10", "alfa", "create", side="partner", new_value="500")
    done = AppliedLink(
        key=("10", "alfa"),
        state=_state(),
        new=True,
        audit=(event,),
        intent=IntentState.DONE,
        created_id="500",
    )
    with store.transaction() as session:
        applied.record(session, done, NOW)
    with store.transaction() as session:
        assert links.states(session, ["10"]) == [_state()]
        assert audit.events(session, "10") == [event]
        assert intents.pending(session, "alfa") == []
        assert inbox.take(session, LATER) == []


def test_a_failed_plan_stores_nothing_but_the_retry(store: Store) -> None:
    retry = Hint("bitrix24:agency", "10", HintKind.UPDATED, NOW, "retry")
    failed = AppliedLink(
        key=("10", "alfa"),
        state=None,
        new=True,
        audit=(AuditEvent(NOW, "10", "alfa", "create"),),
        retry=retry,
        retry_delay=dt.timedelta(seconds=30),
    )
    with store.transaction() as session:
        applied.record(session, failed, NOW)
    with store.transaction() as session:
        assert links.states(session, ["10"]) == []
        assert audit.events(session, "10") == []
        assert inbox.take(session, NOW) == []
        (due,) = inbox.take(session, NOW + dt.timedelta(seconds=30))
    assert due.hint == retry


def test_saving_many_at_once_stores_what_saving_each_stores(store: Store) -> None:
    """The set-based save (record step) and the per-link save leave the same rows:
    inserts, updates, a side not seen, parked since when, a link not stored yet."""
    seen = (_deal("1", "NEW", "300.00"), _deal("500", "142", "300.00"))
    parked = _state(status=LinkStatus.PARKED, park_reason="нет этапа")
    first = [
        (_state(agency_deal_id="1"), seen, True),
        (dataclasses.replace(parked, agency_deal_id="2"), (None, seen[1]), True),
        (dataclasses.replace(parked, agency_deal_id="3"), (None, None), True),
    ]
    second = [
        (_state(agency_deal_id="1", written_agency="x"), (_deal("1", "WON", None), None), False),
        (dataclasses.replace(parked, agency_deal_id="2", park_reason="снова"), (None, None), False),
        (_state(agency_deal_id="3"), seen, False),
        (_state(agency_deal_id="4"), seen, False),  # read as stored, but not there: inserted
    ]
    for when, batch in ((NOW, first), (LATER, second)):
        with store.transaction() as session:
            for state, sides, new in batch:
                links.save_state(session, state, sides, when, new=new)
            twins = [(dataclasses.replace(s, partner_code="beta"), d, n) for s, d, n in batch]
            links.save_states(session, twins, when)
    with store.transaction() as session:
        rows = links.stored(session, ["1", "2", "3", "4"])
    one = {r.state.agency_deal_id: r for r in rows if r.state.partner_code == "alfa"}
    many = {r.state.agency_deal_id: r for r in rows if r.state.partner_code == "beta"}
    assert len(one) == len(many) == 4
    for deal_id, mine in one.items():
        twin = dataclasses.replace(many[deal_id].state, partner_code="alfa")
        assert dataclasses.replace(many[deal_id], id=mine.id, state=twin) == mine
    assert one["2"].parked_at == NOW and one["3"].parked_at is None
