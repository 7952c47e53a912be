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

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bridge.canonical import synced_from_json, synced_to_json
from bridge.mapping.compiled import Policies, Side
from bridge.model import CanonicalValue, Deal, FieldValue, LinkStatus, Money, Note
from bridge.phones import mirrored
from sync.plan.notes import is_mirrored, mirrored_text
from sync.plan.slots import slots_for
from sync.plan.values import written_hash
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

MAPPING = world(policies=Policies(mirror_notes=True))  # notes mirror too (off by default)
PROFILE = settings(max_examples=150, deadline=None, derandomize=True, database=None)

# Whole roubles: the partners here are amoCRM, whose budgets have no kopecks (a
# fractional amount parks the link — tests/unit/test_plan_money.py).
_AMOUNTS = [Money(Decimal(d), "RUB") for d in ("1000", "250001", "99")]
_TEXTS = ["Сайт", "Лендинг «Весна»", "CRM-интеграция", "Бриф 2.0"]
_DATES = [None, dt.date(2026, 4, 1), dt.date(2026, 5, 15)]
_AGENCY_STAGES = ["C5:NEW", "C5:WORK", "C5:WON", "C5:LOSE", "C5:JUNK"]

# (side, what, values) — every kind of edit is drawn with the same odds (a flat
# sampled_from, not nested one_of, which would favour its first branches).
# Values an admin's mapping can carry...
_OK: list[tuple[Side, str, list[FieldValue]]] = [
    (Side.AGENCY, "UF_CRM_BRIEF", [*_TEXTS]),
    (Side.AGENCY, "UF_CRM_KIND", ["61", "62", None]),
    (Side.AGENCY, "UF_CRM_DEADLINE", [*_DATES]),
    (Side.AGENCY, "UF_CRM_PAID", [None, Decimal("5")]),
    (Side.AGENCY, "stage", [*_AGENCY_STAGES]),
    (Side.AGENCY, "amount", [*_AMOUNTS]),
    (Side.AGENCY, "title", [*_TEXTS]),
    (Side.AGENCY, "responsible", ["1", "7"]),
    (Side.AGENCY, "note", [*_TEXTS]),
    (Side.PARTNER, "5001", [*_TEXTS]),
    (Side.PARTNER, "5002", ["9001", "9002", None]),
    (Side.PARTNER, "5003", [None, Decimal("100"), Decimal("7.5")]),
    (Side.PARTNER, "5004", [*_DATES]),
    (Side.PARTNER, "stage", ["101", "102", "142", "143"]),
    (Side.PARTNER, "amount", [*_AMOUNTS]),
    (Side.PARTNER, "note", [*_TEXTS]),
]
# ...and values it cannot (unmapped stage, option missing from the table, user).
_BAD: list[tuple[Side, str, list[FieldValue]]] = [
    (Side.AGENCY, "stage", ["C5:HOLD"]),
    (Side.AGENCY, "UF_CRM_KIND", ["63"]),
    (Side.AGENCY, "responsible", ["999"]),
    (Side.PARTNER, "stage", ["103"]),
    (Side.PARTNER, "5002", ["9009"]),
]

Edit = tuple[Side, str, FieldValue]


def _edits(kinds: list[tuple[Side, str, list[FieldValue]]]) -> st.SearchStrategy[Edit]:
    return st.sampled_from(kinds).flatmap(
        lambda k: st.sampled_from(k[2]).map(lambda v: (k[0], k[1], v))
    )


_ok_edit = _edits(_OK)
_any_edit = _edits(_OK + _BAD)
_dates = st.sampled_from(_DATES)


def _change(deal: Deal, what: str, value: FieldValue, at: dt.datetime) -> Deal:
    if what == "stage":
        assert isinstance(value, str), value
        return edit(deal, at, stage_id=value)
    if what == "amount":
        assert value is None or isinstance(value, Money), value
        return edit(deal, at, amount=value)
    if what == "title":
        assert isinstance(value, str), value
        return edit(deal, at, title=value)
    if what == "responsible":
        assert value is None or isinstance(value, str), value
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
    first = sides.plan(MAPPING)
    sides.clock -= dt.timedelta(minutes=1)  # same inputs, same "now"
    assert sides.plan(MAPPING) == first  # deterministic
    sides.apply(first)
    _assert_quiet(sides)


@PROFILE
@given(st.lists(st.one_of(_ok_edit, st.just("sync")), min_size=1, max_size=14))
def test_random_edits_converge_to_the_mapping_rules(steps: list[Edit | str]) -> None:
    sides = _fresh()
    for step in steps:
        if isinstance(step, str):
            assert step == "sync"
            sides.run(MAPPING)
        else:
            _perform(sides, step)
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


_fan_out_edit = st.tuples(st.sampled_from(["atwinta", "kodix"]), _ok_edit)


def _rub(amount: str) -> Money:
    return Money(Decimal(amount), "RUB")


@PROFILE
@given(st.lists(st.one_of(_fan_out_edit, st.just("sync")), min_size=1, max_size=12))
@example([("atwinta", (Side.PARTNER, "5003", Decimal("100")))])  # to_agency fed by two links
@example([("kodix", (Side.PARTNER, "stage", "142")), ("atwinta", (Side.PARTNER, "stage", "143"))])
@example(
    [("atwinta", (Side.PARTNER, "amount", _rub("99"))), ("", (Side.AGENCY, "amount", _rub("1")))]
)
@example(
    [
        ("atwinta", (Side.PARTNER, "amount", _rub("99"))),
        "sync",
        ("", (Side.AGENCY, "amount", _rub("1"))),
    ]
)
def test_fan_out_links_settle_within_a_few_passes(steps: list[tuple[str, Edit] | str]) -> None:
    """Two partners share one agency deal. A partner's change reaches the agency deal
    but is not pushed into the sibling partner's deal (it is the sibling link's echo);
    an agency change reaches both. Whatever the order, it settles and stays quiet."""
    sides = Sides(agency_deal(fields={"UF_CRM_PARTNER": ("11", "12")}))
    sides.run(MAPPING)
    # All three amounts must end equal when the agency's amount edit was the last one
    # and no partner amount edit raced it in the same pass (the partner owns amount).
    expect_equal, partner_pending = True, False
    for step in steps:
        if isinstance(step, str):
            assert step == "sync"
            sides.run(MAPPING)
            partner_pending = False
            continue
        code, (side, what, value) = step
        if what == "note":
            continue
        at = sides.tick()
        if side is Side.AGENCY:
            sides.agency = _change(sides.agency, what, value, at)
        else:
            current = sides.partners[code]
            assert current is not None
            sides.partners[code] = _change(current, what, value, at)
        if what == "amount":
            partner_pending = partner_pending or side is Side.PARTNER
            expect_equal = not partner_pending
    for _ in range(2):
        sides.run(MAPPING)
    assert writes(sides.plan(MAPPING)) == []
    atwinta, kodix = sides.partners["atwinta"], sides.partners["kodix"]
    assert atwinta is not None and kodix is not None
    assert sides.agency.amount in (atwinta.amount, kodix.amount)
    if expect_equal:
        assert atwinta.amount == kodix.amount == sides.agency.amount


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=12),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.builds(
        Money,
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
        st.sampled_from(["RUB", "USD", "KZT"]),
    ),
    st.dates(),
    st.datetimes(timezones=st.just(dt.UTC)),
)
_canonical = st.recursive(_scalars, lambda inner: st.tuples(inner, inner), max_leaves=6)


@PROFILE
@given(st.dictionaries(st.text(max_size=8), _canonical, max_size=5))
def test_synced_json_round_trip_is_exact(synced: dict[str, CanonicalValue]) -> None:
    text = synced_to_json(synced)
    back = synced_from_json(text)
    assert back == synced
    assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in synced.items()}
    assert synced_to_json(back) == text  # the exact spelling (e.g. Decimal 1.10) survives
    assert written_hash(back) == written_hash(synced)


@PROFILE
@given(st.from_regex(r"[+]?[78]?[ (-]*\d{3}[) -]*\d{3}[ -]?\d{2}[ -]?\d{2}", fullmatch=True))
def test_phone_normalisation_is_idempotent(raw: str) -> None:
    once = mirrored(raw)
    assert mirrored(once) == once
    assert once.startswith("+") or once == raw.strip()  # invalid numbers stay as typed
