from __future__ import annotations

import datetime as dt

from bridge.channels.conflicts import (
    Draft,
    check_conflicts,
    confirm,
    conflict_comment,
    fingerprints_of,
    held,
    record_handover,
    screen_new_handovers,
)
from bridge.channels.normalise import Fingerprint, Kind
from bridge.model import Company, Contact
from bridge.notices import Notices
from bridge.store.db import Store

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(days=90)
IVAN = Contact("Иван Петров", phones=("8 912 345 67 89",), emails=("Ivan@Romashka.ru",))
ROMASHKA = Company("ООО «Ромашка»", tax_id="7707083893")
NAMES = {"alfa": "Альфа", "beta": "Бета"}


def test_fingerprints_keep_only_what_normalises() -> None:
    company = Company("X", phones=("123",), emails=("broken",), tax_id="7707083894")
    prints = fingerprints_of(IVAN, company, "https://www.ромашка.рф/contacts")
    assert prints == {
        Fingerprint(Kind.PHONE, "+79123456789"),
        Fingerprint(Kind.EMAIL, "ivan@romashka.ru"),
        Fingerprint(Kind.DOMAIN, "xn--80aa3agjl3d.xn--p1ai"),
    }


def _handover(store: Store, deal: str, partner: str, at: dt.datetime, *prints: Fingerprint) -> None:
    with store.transaction() as session:
        record_handover(session, deal, partner, prints, at)


def test_conflict_within_the_window_with_another_partner(store: Store) -> None:
    phone = Fingerprint(Kind.PHONE, "+79123456789")
    inn = Fingerprint(Kind.INN, "7707083893")
    _handover(store, "100", "alfa", NOW - dt.timedelta(days=12), phone, inn)
    with store.transaction() as session:
        found = check_conflicts(session, [phone, inn], "beta", NOW, WINDOW, agency_deal_id="200")
    assert len(found) == 1
    assert found[0].earlier.partner_code == "alfa"
    assert found[0].earlier.agency_deal_id == "100"
    assert found[0].earlier.handed_at == NOW - dt.timedelta(days=12)
    assert found[0].matches == (inn, phone)  # sorted: kind "inn" before "phone"


def test_no_conflict_outside_the_window_same_partner_or_same_deal(store: Store) -> None:
    phone = Fingerprint(Kind.PHONE, "+79123456789")
    _handover(store, "100", "alfa", NOW - dt.timedelta(days=91), phone)
    _handover(store, "101", "beta", NOW - dt.timedelta(days=1), phone)
    _handover(store, "200", "gamma", NOW - dt.timedelta(days=1), phone)
    with store.transaction() as session:
        # alfa is too old, beta is the same partner, deal 200 is this very deal fanned out.
        assert check_conflicts(session, [phone], "beta", NOW, WINDOW, agency_deal_id="200") == []
        # With a longer window the old alfa handover counts.
        longer = check_conflicts(
            session, [phone], "beta", NOW, dt.timedelta(days=92), agency_deal_id="200"
        )
    assert [c.earlier.partner_code for c in longer] == ["alfa"]


def test_record_handover_is_idempotent(store: Store) -> None:
    phone = Fingerprint(Kind.PHONE, "+79123456789")
    with store.transaction() as session:
        assert record_handover(session, "100", "alfa", [phone], NOW) == 1
    with store.transaction() as session:
        assert record_handover(session, "100", "alfa", [phone], NOW + dt.timedelta(1)) == 0
        (found,) = check_conflicts(session, [phone], "beta", NOW + dt.timedelta(2), WINDOW)
    assert found.earlier.handed_at == NOW  # the first handover's time is kept


def test_screen_flags_once_comments_in_russian_and_holds_until_confirmed(store: Store) -> None:
    _handover(
        store,
        "100",
        "alfa",
        dt.datetime(2026, 11, 12, 9, 0, tzinfo=dt.UTC),
        *fingerprints_of(IVAN, ROMASHKA),
    )
    draft = Draft("200", "beta", contact=Contact("Иван", phones=("+7 (912) 345-67-89",)))
    with store.transaction() as session:
        first = screen_new_handovers(session, [draft], NOW, WINDOW, hold=True, partner_names=NAMES)
    assert first.held == {("200", "beta")}
    (comment,) = first.comments
    assert comment.deal_id == "200"
    assert comment.text == (
        "[partner-bridge] Клиент уже передавался партнёру «Альфа» 12.11.2026 (сделка 100). "
        "Совпадение: телефон +79123456789.\n"
        "Сделка не передана партнёру «Бета» до подтверждения менеджером."
    )
    with store.transaction() as session:
        again = screen_new_handovers(session, [draft], NOW, WINDOW, hold=True)
        assert [(f.agency_deal_id, f.partner_code) for f in held(session)] == [("200", "beta")]
    assert again.comments == [] and again.flagged == []  # flagged once, not every pass
    assert again.held == {("200", "beta")}
    with store.transaction() as session:
        assert confirm(session, "200", "beta", NOW)
        assert not confirm(session, "200", "beta", NOW)
        after = screen_new_handovers(session, [draft], NOW, WINDOW, hold=True)
        assert held(session) == []
    assert after.held == set() and after.comments == []


def test_screen_without_hold_flags_but_lets_the_deal_go(store: Store) -> None:
    _handover(store, "100", "alfa", NOW - dt.timedelta(days=3), *fingerprints_of(IVAN))
    with store.transaction() as session:
        result = screen_new_handovers(
            session, [Draft("200", "beta", contact=IVAN)], NOW, WINDOW, hold=False
        )
    assert result.held == set()
    assert len(result.flagged) == 1 and len(result.comments) == 1
    assert "подтверждения" not in result.comments[0].text


def test_screen_sees_earlier_drafts_of_the_same_batch(store: Store) -> None:
    drafts = [
        Draft("300", "alfa", company=ROMASHKA),
        Draft("300", "beta", company=ROMASHKA),  # the same deal fanned out: fine
        Draft("301", "gamma", company=Company("Ромашка", tax_id="7707 083 893")),
    ]
    with store.transaction() as session:
        result = screen_new_handovers(session, drafts, NOW, WINDOW, hold=True)
    assert result.held == {("301", "gamma")}
    assert sorted(c.earlier.partner_code for c in result.flagged) == ["alfa", "beta"]


def test_comment_in_english_and_with_an_override() -> None:
    from bridge.channels.conflicts import Conflict, Handover

    conflict = Conflict(
        "200",
        "beta",
        Handover("alfa", "100", dt.datetime(2026, 11, 12, tzinfo=dt.UTC)),
        (Fingerprint(Kind.INN, "7707083893"), Fingerprint(Kind.DOMAIN, "romashka.ru")),
    )
    english = conflict_comment([conflict], Notices("en"), NAMES, held=False)
    assert english == (
        "This client was already handed to partner “Альфа” on 12 Nov 2026 (deal 100). "
        "Matched: tax id 7707083893, website romashka.ru."
    )
    custom = Notices("ru", {"channel_conflict": "Дубль: {partner}, {date}"})
    assert conflict_comment([conflict], custom, NAMES, held=False) == "Дубль: Альфа, 12.11.2026"
