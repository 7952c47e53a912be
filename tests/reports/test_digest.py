from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlmodel import select

from bridge.digest.select import (
    PartnerDigest,
    is_digest_day,
    render,
    stale_links,
    week_key,
    without_stage_change,
)
from bridge.digest.tables import DigestNoteRow
from bridge.kpi.history import partner_stage_changes
from bridge.mapping.compiled import Policies
from bridge.model import Deal, LinkStatus
from bridge.notices import Notices
from bridge.sandbox.memory import ManualClock, MemoryCrm
from bridge.store import links
from bridge.store.db import Store
from bridge.store.tables import AuditRow, LinkRow
from sync.jobs.digest import run_digest

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)  # a Monday
DAY = dt.timedelta(days=1)


def _link(
    agency: str,
    partner_deal: str | None,
    updated: dt.datetime | None,
    status: LinkStatus = LinkStatus.ACTIVE,
    partner: str = "alfa",
    created: dt.datetime = NOW - 30 * DAY,
) -> LinkRow:
    return LinkRow(
        agency_deal_id=agency,
        partner_code=partner,
        partner_deal_id=partner_deal,
        status=status.value,
        partner_updated_at=updated,
        created_at=created,
        updated_at=created,
    )


def test_stale_links_are_active_links_untouched_for_n_days() -> None:
    rows = [
        _link("1", "p1", NOW - 8 * DAY),
        _link("2", "p2", NOW - 7 * DAY),  # exactly N days: stale
        _link("3", "p3", NOW - 6 * DAY),
        _link("4", "p4", NOW - 20 * DAY, status=LinkStatus.PARKED),
        _link("5", "p5", NOW - 20 * DAY, status=LinkStatus.CLOSED),
        _link("6", "p6", None, created=NOW - 9 * DAY),  # never seen changed: since creation
        _link("7", None, None, status=LinkStatus.PENDING_CREATE),
    ]
    found = stale_links(rows, NOW, dt.timedelta(days=7))
    assert [(d.agency_deal_id, d.days) for d in found] == [("6", 9), ("1", 8), ("2", 7)]


def _synced(
    agency: str, at: dt.datetime, old: tuple[str, str] | None, new: tuple[str, str]
) -> AuditRow:
    def text(pair: tuple[str, str] | None) -> str | None:
        return None if pair is None else " ↔ ".join(pair)

    return AuditRow(
        at=at,
        agency_deal_id=agency,
        partner_code="alfa",
        action="synced",
        field="@stage",
        old_value=text(old),
        new_value=text(new),
    )


def test_partner_stage_changes_ignore_creation_and_the_bridges_own_moves() -> None:
    rows = [
        _synced("1", NOW - 20 * DAY, None, ("NEW", "10")),  # creation, not a move
        _synced("1", NOW - 15 * DAY, ("NEW", "10"), ("WORK", "11")),  # partner moved
        _synced("1", NOW - 9 * DAY, ("WORK", "11"), ("WON", "12")),  # agency moved; bridge wrote
        AuditRow(
            at=NOW - 9 * DAY,
            agency_deal_id="1",
            partner_code="alfa",
            action="update",
            side="partner",
            field="stage_id,amount",
        ),
        _synced("2", NOW - 3 * DAY, ("NEW", "10"), ("NEW2", "10")),  # only the agency half
    ]
    assert partner_stage_changes(rows) == {("1", "alfa"): [NOW - 15 * DAY]}


def test_without_stage_change_uses_the_last_partner_move() -> None:
    rows = [_link("1", "p1", NOW - DAY), _link("2", "p2", NOW - DAY), _link("3", "p3", NOW)]
    moves = {("1", "alfa"): [NOW - 15 * DAY, NOW - 10 * DAY], ("2", "alfa"): [NOW - 2 * DAY]}
    found = without_stage_change(rows, moves, NOW, dt.timedelta(days=7))
    # 1: last move 10 days ago; 3: never moved, created 30 days ago; 2 moved recently.
    assert [(d.agency_deal_id, d.days) for d in found] == [("3", 30), ("1", 10)]


def test_week_key_and_digest_day() -> None:
    assert week_key(NOW) == "2026-W48"
    assert week_key(dt.datetime(2027, 1, 1, tzinfo=dt.UTC)) == "2026-W53"
    assert is_digest_day(0, NOW) and not is_digest_day(4, NOW)


@dataclass(frozen=True)
class _Partner:
    code: str
    name: str
    policies: Policies


@dataclass(frozen=True)
class _Agency:
    timezone: str = "Europe/Moscow"


@dataclass(frozen=True)
class _Mapping:
    partners: Mapping[str, _Partner] = field(default_factory=dict)
    agency: _Agency = field(default_factory=_Agency)


def _crm(*deal_ids: str) -> MemoryCrm:
    crm = MemoryCrm("amocrm:alfa", clock=ManualClock(NOW))
    for deal_id in deal_ids:
        crm.deals[deal_id] = Deal(deal_id, "Сайт", "1", "10", None, NOW - 40 * DAY, NOW - 9 * DAY)
    return crm


def _seed(store: Store) -> None:
    with store.transaction() as session:
        for row in (
            _link("1", "p1", NOW - 9 * DAY),
            _link("2", "p2", NOW - 8 * DAY),
            _link("3", "p3", NOW - DAY),
            _link("4", "gone", NOW - 12 * DAY),
        ):
            links.save(session, row, row.created_at)


def _mapping(notes: bool = True, language: str = "ru") -> _Mapping:
    policies = Policies(status_request_notes=notes, language=language)
    return _Mapping({"alfa": _Partner("alfa", "Альфа", policies)})


def test_run_digest_posts_notes_once_per_deal_per_week(store: Store) -> None:
    _seed(store)
    crm = _crm("p1", "p2", "p3")  # "gone" was deleted in the partner CRM
    report = run_digest(store, _mapping(), {"alfa": crm}, NOW, post_notes=True)
    (digest,) = report.partners
    assert [d.agency_deal_id for d in digest.stale] == ["4", "1", "2"]
    assert digest.notes_sent == ("1", "2")
    assert [agency for agency, _ in digest.notes_failed] == ["4"]
    assert sorted(crm.notes) == ["p1", "p2"]
    assert crm.notes["p1"][0].text == (
        "[partner-bridge] Агентство просит обновить статус сделки №p1: последнее изменение "
        "14.11.2026 (9 дн. назад). Пожалуйста, обновите стадию или напишите комментарий."
    )
    # Later the same week: nothing new is sent; the refused note is tried again.
    crm.deals["gone"] = Deal("gone", "Сайт", "1", "10", None, NOW - 40 * DAY, NOW - 12 * DAY)
    again = run_digest(store, _mapping(), {"alfa": crm}, NOW + 3 * DAY, post_notes=True)
    assert again.partners[0].notes_sent == ("4",)
    assert again.partners[0].notes_skipped == ("1", "2")
    assert [len(crm.notes[k]) for k in ("p1", "p2", "gone")] == [1, 1, 1]
    # Next week each stale deal gets one more.
    run_digest(store, _mapping(), {"alfa": crm}, NOW + 7 * DAY, post_notes=True)
    assert [len(crm.notes[k]) for k in ("p1", "p2", "p3", "gone")] == [2, 2, 1, 2]
    with store.transaction() as session:
        weeks = sorted({r.week for r in session.exec(select(DigestNoteRow))})
    assert weeks == ["2026-W48", "2026-W49"]


def test_run_digest_posts_nothing_unless_asked_and_allowed(store: Store) -> None:
    _seed(store)
    crm = _crm("p1", "p2", "p3", "gone")
    run_digest(store, _mapping(), {"alfa": crm}, NOW, post_notes=False)
    run_digest(store, _mapping(notes=False), {"alfa": crm}, NOW, post_notes=True)
    assert crm.notes == {}


def test_render_in_english_lists_stale_and_waiting(store: Store) -> None:
    _seed(store)
    with store.transaction() as session:
        row = _link("9", "p9", NOW, status=LinkStatus.PARKED)
        row.park_reason = "stage “Проверка” is not mapped"
        links.save(session, row, NOW)
    report = run_digest(store, _mapping(language="en"), {}, NOW, post_notes=True)
    digest: PartnerDigest = report.partners[0]
    lines = render(digest, NOW, Notices("en"))
    assert lines[0] == "Digest for partner “Альфа” as of 23 Nov 2026"
    assert "  • #p1 (agency deal 1): last change 14 Nov 2026, 9 days ago" in lines
    assert "  • agency deal 9: stage “Проверка” is not mapped" in lines


def test_due_only_keeps_the_partners_whose_digest_day_is_today(store: Store) -> None:
    _seed(store)
    friday = _Mapping({"alfa": _Partner("alfa", "Альфа", Policies(digest_weekday=4))})
    assert run_digest(store, friday, {}, NOW, post_notes=False, due_only=True).partners == ()
    monday = run_digest(store, _mapping(), {}, NOW, post_notes=False, due_only=True)
    assert [d.partner_code for d in monday.partners] == ["alfa"]
