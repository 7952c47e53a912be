"""Properties of the planner over random edits on both sides (Hypothesis).

1. Idempotence: after a plan is applied, planning again writes nothing and says
   nothing new — whatever the edits were, including unmappable ones that park.
2. Convergence: random edits on both sides, interleaved with plan+apply, end in a
   state where every mirrored slot agrees per the mapping (direction, owner), and
   re-planning yields nothing.
3. Ownership: when both sides change a ``both`` field between two passes, the
   owner's value ends up on both sides.

``derandomize`` keeps the runs reproducible in CI; the example counts keep the
module at a few seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.mapping.compiled import Side
from bridge.model import Deal, Money, Note
from sync.plan_notes import is_mirrored, mirrored_text
from sync.plan_slots import slots_for
from sync.plan_types import LinkStatus
from tests.unit.test_plan_helpers import (
    AGENCY,
    PARTNERS,
    Sides,
    agency_deal,
    edit,
    partner_deal,
    world,
    writes,
)

MAPPING = world()
PROFILE = settings(max_examples=150, deadline=None, derandomize=True)

_texts = st.sampled_from(["Сайт", "Лендинг «Весна»", "CRM-интеграция", "Бриф 2.0"])
_dates = st.sampled_from([None, dt.date(2026, 4, 1), dt.date(2026, 5, 15)])
_money = st.sampled_from([Decimal("1000"), Decimal("250000.50"), Decimal("99")]).map(
    lambda d: Money(d, "RUB")
)

# (side, what, value): values an admin's mapping can carry...
_agency_ok = st.one_of(
    st.tuples(st.just("UF_CRM_BRIEF"), _texts),
    st.tuples(st.just("UF_CRM_KIND"), st.sampled_from(["61", "62", None])),
    st.tuples(st.just("UF_CRM_DEADLINE"), _dates),
    st.tuples(st.just("UF_CRM_PAID"), st.sampled_from([None, Decimal("5")])),
    st.tuples(
        st.just("stage"), st.sampled_from(["C5:NEW", "C5:WORK", "C5:WON", "C5:LOSE", "C5:JUNK"])
    ),
    st.tuples(st.just("amount"), _money),
    st.tuples(st.just("title"), _texts),
    st.tuples(st.just("responsible"), st.sampled_from(["1", "7"])),
    st.tuples(st.just("note"), _texts),
).map(lambda e: (Side.AGENCY, *e))
_partner_ok = st.one_of(
    st.tuples(st.just("5001"), _texts),
    st.tuples(st.just("5002"), st.sampled_from(["9001", "9002", None])),
    st.tuples(st.just("5003"), st.sampled_from([None, Decimal("100"), Decimal("7.5")])),
    st.tuples(st.just("5004"), _dates),
    st.tuples(st.just("stage"), st.sampled_from(["101", "102", "142", "143"])),
    st.tuples(st.just("amount"), _money),
    st.tuples(st.just("note"), _texts),
).map(lambda e: (Side.PARTNER, *e))
# ...and values it cannot (unmapped stage, option missing from the table, user).
_agency_bad = st.one_of(
    st.tuples(st.just("stage"), st.just("C5:HOLD")),
    st.tuples(st.just("UF_CRM_KIND"), st.just("63")),
    st.tuples(st.just("responsible"), st.just("999")),
).map(lambda e: (Side.AGENCY, *e))
_partner_bad = st.one_of(
    st.tuples(st.just("stage"), st.just("103")),
    st.tuples(st.just("5002"), st.just("9009")),
).map(lambda e: (Side.PARTNER, *e))

Edit = tuple[Side, str, object]
_ok_edit = st.one_of(_agency_ok, _partner_ok)
_any_edit = st.one_of(_agency_ok, _partner_ok, _agency_bad, _partner_bad)


def _change(deal: Deal, what: str, value: object, at: dt.datetime) -> Deal:
    attributes = {"stage": "stage_id", "amount": "amount", "title": "title"}
    if what in attributes:
        return edit(deal, at, **{attributes[what]: value})
    if what == "responsible":
        return edit(deal, at, responsible_id=value)
    return edit(deal, at, {what: value})


def _perform(sides: Sides, step: Edit) -> None:
    side, what, value = step
    at = sides.tick()
    if what == "note" and side is Side.AGENCY:
        sides.agency_notes.append(Note(sides.agency.id, str(value), created_at=at))
    elif what == "note":
        sides.partner_notes.setdefault("atwinta", []).append(
            Note(partner_deal(sides).id, str(value), created_at=at)
        )
    elif side is Side.AGENCY:
        sides.agency = _change(sides.agency, what, value, at)
    else:
        sides.partners["atwinta"] = _change(partner_deal(sides), what, value, at)


def _fresh() -> Sides:
    sides = Sides(agency_deal())
    sides.run(MAPPING)
    return sides


def _assert_quiet(sides: Sides) -> None:
    """Planning now writes nothing, reports nothing and keeps the stored sync state."""
    plans = sides.plan(MAPPING)
    assert writes(plans) == []
    for plan in plans:
        assert plan.operations == (), plan.operations
        stored = sides.links[plan.link_key[1]]
        assert plan.next_state.synced == stored.synced
        assert plan.next_state.written_partner == stored.written_partner


def _assert_agree(sides: Sides) -> None:
    extras = dataclasses.replace(PARTNERS["atwinta"])
    partner = MAPPING.partners["atwinta"]
    theirs = partner_deal(sides)
    for slot in slots_for(MAPPING, partner, AGENCY, extras):
        if slot.rule.create_only:
            continue
        a, p = slot.rule.read_agency(sides.agency), slot.rule.read_partner(theirs)
        assert slot.rule.agree(a, p), (slot.rule.name, a, p)
    agency_texts = {n.text for n in sides.agency_notes}
    partner_texts = {n.text for n in sides.partner_notes.get("atwinta", [])}
    for note in sides.partner_notes.get("atwinta", []):
        assert is_mirrored(note.text) or mirrored_text("Atwinta", note.text) in agency_texts
    for note in sides.agency_notes:
        assert is_mirrored(note.text) or mirrored_text("Агентство", note.text) in partner_texts


@PROFILE
@given(st.lists(_any_edit, min_size=1, max_size=6))
def test_applying_a_plan_then_replanning_is_quiet(edits: list[Edit]) -> None:
    sides = _fresh()
    for step in edits:
        _perform(sides, step)
    sides.run(MAPPING)
    _assert_quiet(sides)


@PROFILE
@given(st.lists(st.one_of(_ok_edit, st.just("sync")), min_size=1, max_size=14))
def test_random_edits_converge_to_the_mapping_rules(steps: list[Edit | str]) -> None:
    sides = _fresh()
    for step in steps:
        if step == "sync":
            sides.run(MAPPING)
        else:
            _perform(sides, step)  # type: ignore[arg-type]
    sides.run(MAPPING)
    assert sides.links["atwinta"].status is LinkStatus.ACTIVE
    _assert_quiet(sides)
    _assert_agree(sides)


@PROFILE
@given(
    st.sampled_from(["61", "62", None]),
    st.sampled_from(["9001", "9002", None]),
    _dates,
    _dates,
)
def test_the_owner_wins_when_both_sides_changed(
    agency_kind: str | None,
    partner_kind: str | None,
    agency_date: dt.date | None,
    partner_date: dt.date | None,
) -> None:
    sides = _fresh()
    base_kind, base_date = sides.agency.fields.get("UF_CRM_KIND"), None
    _perform(sides, (Side.AGENCY, "UF_CRM_KIND", agency_kind))
    _perform(sides, (Side.PARTNER, "5002", partner_kind))
    _perform(sides, (Side.AGENCY, "UF_CRM_DEADLINE", agency_date))
    _perform(sides, (Side.PARTNER, "5004", partner_date))
    plans = sides.run(MAPPING)
    theirs = partner_deal(sides)
    kind_table = {"61": "9001", "62": "9002", None: None}
    if agency_kind != base_kind:  # agency owns "kind": its change always stands
        assert theirs.fields.get("5002") == kind_table[agency_kind]
    if partner_date != base_date:  # partner owns "deadline"
        assert sides.agency.fields.get("UF_CRM_DEADLINE") == partner_date
    overruled = {e.field for e in plans[0].audit if e.winner is not None}
    assert ("deadline" in overruled) == (
        partner_date != base_date and agency_date not in (base_date, partner_date)
    )
    _assert_quiet(sides)
