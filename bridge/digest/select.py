"""Which links are stale and what the digest says about them. Pure: rows in, values out.

A link is *stale* when its partner deal has not changed for ``stale_after`` (the
partner's ``updated_at`` as the bridge last saw it, else the link's creation). A
link *without a recent stage change* had no partner stage move for as long, even if
the partner touched other fields. Only active links count: parked, orphaned and
closed links are not the partner's to update.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bridge.kpi.decline import Decline
from bridge.kpi.decline_text import decline_line, declines_title
from bridge.model import LinkStatus, Semantics
from bridge.notices import Notices
from bridge.store.tables import LinkRow

LinkKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class StaleDeal:
    agency_deal_id: str
    partner_code: str
    partner_deal_id: str
    last_change: dt.datetime
    days: int


@dataclass(frozen=True, slots=True)
class Waiting:
    """Something the agency waits for: a parked link's fix or an overdue commission."""

    agency_deal_id: str
    reason: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    due: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PartnerDigest:
    partner_code: str
    partner_name: str
    language: str
    stale_after: dt.timedelta
    stale: tuple[StaleDeal, ...]
    no_stage_change: tuple[StaleDeal, ...]
    waiting: tuple[Waiting, ...] = ()
    notes_sent: tuple[str, ...] = ()  # agency deal ids noted in this run
    notes_skipped: tuple[str, ...] = ()  # already noted this week
    notes_failed: tuple[tuple[str, str], ...] = ()  # (agency deal id, error)
    declines: tuple[Decline, ...] = ()  # activity declines beyond alerts.decline's threshold


@dataclass(frozen=True, slots=True)
class DigestReport:
    generated_at: dt.datetime
    partners: tuple[PartnerDigest, ...] = field(default_factory=tuple)


def week_key(now: dt.datetime, zone: dt.tzinfo = dt.UTC) -> str:
    """The ISO week of ``now`` in the programme's time zone, e.g. ``2026-W48``."""
    year, week, _ = now.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def is_digest_day(weekday: int, now: dt.datetime, zone: dt.tzinfo = dt.UTC) -> bool:
    """``weekday`` as in Policies.digest_weekday (0 = Monday), judged in the programme's
    time zone (Thursday 01:00 in Moscow is still Wednesday in UTC)."""
    return now.astimezone(zone).weekday() == weekday


def _deal(row: LinkRow, last: dt.datetime, now: dt.datetime) -> StaleDeal:
    return StaleDeal(
        row.agency_deal_id, row.partner_code, row.partner_deal_id or "", last, (now - last).days
    )


def _active(rows: Iterable[LinkRow]) -> list[LinkRow]:
    """Active links still open on their own partner side (a partner that won or lost
    its deal has nothing to update, whatever the shared agency deal says)."""
    return [
        r
        for r in rows
        if r.status == LinkStatus.ACTIVE.value
        and r.partner_deal_id
        and r.outcome in (None, Semantics.OPEN.value)
    ]


def stale_links(
    rows: Iterable[LinkRow], now: dt.datetime, stale_after: dt.timedelta
) -> list[StaleDeal]:
    """Active links whose partner side has not changed since ``now - stale_after``."""
    found = [_deal(r, r.partner_updated_at or r.created_at, now) for r in _active(rows)]
    return sorted((d for d in found if d.last_change <= now - stale_after), key=_order)


def without_stage_change(
    rows: Iterable[LinkRow],
    stage_changes: Mapping[LinkKey, Sequence[dt.datetime]],
    now: dt.datetime,
    stale_after: dt.timedelta,
) -> list[StaleDeal]:
    """Active links whose partner stage has not moved since ``now - stale_after``."""
    found = []
    for row in _active(rows):
        moves = stage_changes.get((row.agency_deal_id, row.partner_code), ())
        found.append(_deal(row, max(moves, default=row.created_at), now))
    return sorted((d for d in found if d.last_change <= now - stale_after), key=_order)


def _order(deal: StaleDeal) -> tuple[dt.datetime, str]:
    return (deal.last_change, deal.agency_deal_id)


def status_request(deal: StaleDeal, notices: Notices) -> str:
    return notices.render(
        "status_request",
        deal=deal.partner_deal_id,
        last_change=notices.date(deal.last_change),
        days=deal.days,
    )


def render(digest: PartnerDigest, now: dt.datetime, notices: Notices) -> list[str]:
    """The digest as plain text lines, in the partner's language."""
    days = digest.stale_after.days
    lines = [notices.render("digest_title", partner=digest.partner_name, date=notices.date(now))]
    for key, deals in (("digest_stale", digest.stale), ("digest_no_stage", digest.no_stage_change)):
        lines.append(notices.render(key, days=days))
        lines += [f"  • {_deal_line(d, notices)}" for d in deals] or [_none(notices)]
    lines.append(notices.render("digest_waiting"))
    lines += [f"  • {_waiting_line(w, notices)}" for w in digest.waiting] or [_none(notices)]
    if digest.declines:
        first = digest.declines[0]
        lines.append(declines_title(first.window_days, first.baseline_days, notices))
        lines += [f"  • {decline_line(d, notices)}" for d in digest.declines]
    if digest.notes_sent or digest.notes_skipped:
        sent, skipped = len(digest.notes_sent), len(digest.notes_skipped)
        lines.append(notices.render("digest_notes", sent=sent, skipped=skipped))
    return lines


def _none(notices: Notices) -> str:
    return f"  {notices.render('digest_none')}"


def _deal_line(deal: StaleDeal, notices: Notices) -> str:
    return notices.render(
        "digest_deal",
        deal=deal.partner_deal_id,
        agency=deal.agency_deal_id,
        date=notices.date(deal.last_change),
        days=deal.days,
    )


def _waiting_line(item: Waiting, notices: Notices) -> str:
    if item.amount is not None and item.currency and item.due is not None:
        amount = notices.money(item.amount, item.currency)
        return notices.render("digest_overdue", amount=amount, date=notices.date(item.due))
    return notices.render("digest_parked", agency=item.agency_deal_id, reason=item.reason or "")
