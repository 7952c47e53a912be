"""The weekly digest against the store, and the status-request notes it may post.

:func:`run_digest` is what the daemon's weekly job calls (and ``bridge digest``).
Notes go out through ``Crm.add_notes`` in one bulk call per partner, at most once
per deal per ISO week: each note is claimed in ``digest_note`` (committed) before
the call, and the claim is dropped only when the CRM refused that note. A crash
between the claim and the call therefore loses a reminder rather than doubling it.

Only open deals are the partner's to update: a link whose outcome is won or lost (the
KPI facts' outcome; with the partner's CRM at hand, also its pipeline's won/lost
stages) is neither listed nor asked about. Which open deals the note asks about is the
partner's ``status_request_deals`` policy: ``stale`` ones (default) or every ``open``
one. The digest day and the week are judged in the programme's time zone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import zoneinfo
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from sqlalchemy import delete
from sqlmodel import Session, col, select

from bridge.crm import Crm, CrmError
from bridge.digest.select import (
    DigestReport,
    PartnerDigest,
    StaleDeal,
    Waiting,
    is_digest_day,
    stale_links,
    status_request,
    week_key,
    without_stage_change,
)
from bridge.digest.tables import CLAIMED, SENT, DigestNoteRow
from bridge.kpi.decline import Decline, DeclineRule, declines
from bridge.kpi.history import partner_stage_changes
from bridge.kpi.query import StageSemantics, load_facts
from bridge.ledger import book
from bridge.ledger.balances import open_items
from bridge.mapping.compiled import Policies, Side, StatusRequests
from bridge.model import LinkStatus, Note, Semantics, bridge_note
from bridge.notices import Notices
from bridge.store import links
from bridge.store.db import Store
from bridge.store.tables import AuditRow

Overrides = Mapping[str, Mapping[str, str]]  # language → notice key → template


class PartnerConfig(Protocol):
    """What the digest needs of a partner: a compiled one or an offline-validated spec."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def policies(self) -> Policies: ...


class AgencyLike(Protocol):
    @property
    def timezone(self) -> str: ...


class MappingLike(Protocol):
    @property
    def agency(self) -> AgencyLike: ...
    @property
    def partners(self) -> Mapping[str, PartnerConfig]: ...


log = logging.getLogger(__name__)


def notices_for(partner: PartnerConfig, overrides: Overrides | None = None) -> Notices:
    language = partner.policies.language
    return Notices(language, (overrides or {}).get(language))


def build_digest(
    session: Session,
    partner: PartnerConfig,
    now: dt.datetime,
    closed: Collection[str] = frozenset(),
) -> PartnerDigest:
    """One partner's digest as the store sees it (no notes sent); ``closed``: the agency
    deal ids of this partner's links that are won or lost (left out)."""
    rows = [r for r in links.for_partner(session, partner.code) if r.agency_deal_id not in closed]
    audit_rows = session.exec(select(AuditRow).where(AuditRow.partner_code == partner.code))
    moves = partner_stage_changes(audit_rows)
    after = partner.policies.stale_after
    return PartnerDigest(
        partner_code=partner.code,
        partner_name=partner.name,
        language=partner.policies.language,
        stale_after=after,
        stale=tuple(stale_links(rows, now, after)),
        no_stage_change=tuple(without_stage_change(rows, moves, now, after)),
        waiting=tuple(_waiting(session, partner.code, now)),
    )


def _waiting(session: Session, code: str, now: dt.datetime) -> list[Waiting]:
    parked = [
        Waiting(r.agency_deal_id, reason=r.park_reason)
        for r in links.for_partner(session, code, [LinkStatus.PARKED])
    ]
    overdue = [
        Waiting(
            i.entry.deal_id, amount=i.outstanding, currency=i.entry.currency, due=i.entry.payable_at
        )
        for i in open_items(book.read(session, partner=code), now)
        if i.overdue and i.entry.payer is Side.PARTNER
    ]
    return parked + overdue


def run_digest(
    store: Store,
    mapping: MappingLike,
    partners: Mapping[str, Crm],
    now: dt.datetime,
    *,
    post_notes: bool,
    only: str | None = None,
    due_only: bool = False,
    overrides: Overrides | None = None,
    among: Collection[str] | None = None,
    decline: DeclineRule | None = None,
) -> DigestReport:
    """Every partner's digest (or ``only`` one); with ``post_notes``, ask for status updates
    on stale deals of partners whose policy enables status-request notes. With a
    ``decline`` rule (``alerts.decline``), each digest lists the partner's activity declines.

    ``due_only`` keeps the partners whose ``digest_weekday`` is today in the programme's
    time zone, for a scheduler that runs daily so per-partner digest days are honoured.
    """
    zone = zoneinfo.ZoneInfo(mapping.agency.timezone)
    chosen = [
        (code, partner)
        for code, partner in sorted(mapping.partners.items())
        if (only is None or code == only)
        and (among is None or code in among)
        and not (due_only and not is_digest_day(partner.policies.digest_weekday, now, zone))
    ]
    if not chosen:
        return DigestReport(now, ())
    semantics = _stage_semantics({c: partners[c] for c, _ in chosen if c in partners})
    with store.transaction() as session:
        closed = closed_links(session, semantics)
    found_declines = _declines(store, decline, now) if decline is not None else {}
    digests = []
    for code, partner in chosen:
        with store.transaction() as session:
            digest = build_digest(session, partner, now, closed.get(code, set()))
        if found_declines.get(code):
            digest = dataclasses.replace(digest, declines=tuple(found_declines[code]))
        crm = partners.get(code)
        if post_notes and partner.policies.status_request_notes and crm is not None:
            asked = _asked_about(store, digest, partner.policies, now, closed.get(code, set()))
            notices = notices_for(partner, overrides)
            digest = _post_notes(store, digest, asked, crm, notices, now, zone)
        digests.append(digest)
    return DigestReport(now, tuple(digests))


def _declines(store: Store, rule: DeclineRule, now: dt.datetime) -> dict[str, list[Decline]]:
    """Every partner's activity declines under ``rule``, by partner code."""
    from bridge.kpi.activity import load_activity, since

    with store.transaction() as session:
        activity = load_activity(session, since(rule, now))
    found: dict[str, list[Decline]] = {}
    for item in declines(activity, rule, now):
        found.setdefault(item.partner_code, []).append(item)
    return found


def closed_links(session: Session, semantics: StageSemantics | None = None) -> dict[str, set[str]]:
    """Per partner, the agency deal ids of its links that are won or lost."""
    out: dict[str, set[str]] = {}
    for fact in load_facts(session, semantics):
        if fact.outcome is not Semantics.OPEN:
            out.setdefault(fact.partner_code, set()).add(fact.agency_deal_id)
    return out


def _stage_semantics(crms: Mapping[str, Crm]) -> StageSemantics:
    """(partner, stage id) → won/lost/open from each partner's own pipelines, where readable."""
    out: dict[tuple[str, str], Semantics] = {}
    for code, crm in crms.items():
        try:
            pipelines = crm.pipelines()
        except CrmError as exc:
            log.warning("digest: cannot read %s's pipelines: %s", code, exc)
            continue
        out.update({(code, s.id): s.semantics for p in pipelines for s in p.stages})
    return out


def _asked_about(
    store: Store,
    digest: PartnerDigest,
    policies: Policies,
    now: dt.datetime,
    closed: Collection[str],
) -> tuple[StaleDeal, ...]:
    """The deals the status request asks about: the stale ones, or every open one."""
    if policies.status_request_deals is StatusRequests.STALE:
        return digest.stale
    with store.transaction() as session:
        rows = [
            r
            for r in links.for_partner(session, digest.partner_code)
            if r.agency_deal_id not in closed
        ]
    return tuple(stale_links(rows, now, dt.timedelta(0)))


def _post_notes(
    store: Store,
    digest: PartnerDigest,
    asked: Sequence[StaleDeal],
    crm: Crm,
    notices: Notices,
    now: dt.datetime,
    zone: dt.tzinfo,
) -> PartnerDigest:
    week = week_key(now, zone)
    with store.transaction() as session:
        claimed, skipped = _claim(session, digest.partner_code, asked, week, now)
    by_partner_id = {d.partner_deal_id: d for d in claimed}
    notes = [Note(d.partner_deal_id, bridge_note(status_request(d, notices))) for d in claimed]
    results = crm.add_notes(notes) if notes else []
    failed = [(by_partner_id[r.key].agency_deal_id, str(r.error)) for r in results if not r.ok]
    sent = [by_partner_id[r.key].agency_deal_id for r in results if r.ok]
    with store.transaction() as session:
        _settle(session, digest.partner_code, week, sent, [f for f, _ in failed], now)
    return dataclasses.replace(
        digest, notes_sent=tuple(sent), notes_skipped=tuple(skipped), notes_failed=tuple(failed)
    )


def _claim(
    session: Session, code: str, stale: Sequence[StaleDeal], week: str, now: dt.datetime
) -> tuple[list[StaleDeal], list[str]]:
    """Claim this week's note for each deal asked about not yet noted; (claimed, already)."""
    query = select(DigestNoteRow.agency_deal_id).where(
        DigestNoteRow.partner_code == code, DigestNoteRow.week == week
    )
    done = set(session.exec(query))
    claimed = [d for d in stale if d.agency_deal_id not in done]
    for deal in claimed:
        session.add(
            DigestNoteRow(
                partner_code=code,
                agency_deal_id=deal.agency_deal_id,
                partner_deal_id=deal.partner_deal_id,
                week=week,
                state=CLAIMED,
                claimed_at=now,
            )
        )
    session.flush()
    return claimed, [d.agency_deal_id for d in stale if d.agency_deal_id in done]


def _settle(
    session: Session,
    code: str,
    week: str,
    sent: Sequence[str],
    failed: Sequence[str],
    now: dt.datetime,
) -> None:
    mine = (col(DigestNoteRow.partner_code) == code, col(DigestNoteRow.week) == week)
    if failed:
        session.execute(
            delete(DigestNoteRow).where(*mine, col(DigestNoteRow.agency_deal_id).in_(failed))
        )
    for row in session.exec(
        select(DigestNoteRow).where(*mine, col(DigestNoteRow.agency_deal_id).in_(list(sent)))
    ):
        row.state, row.sent_at = SENT, now
        session.add(row)
