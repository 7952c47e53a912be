"""Read models of the console and cabinet pages: small functions over the store.

Each takes an open session and returns plain values the templates show; none
writes. Partner-scoped reads take the partner code as a required argument, so a
cabinet page cannot forget to filter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import or_
from sqlmodel import Session, col, select

from bridge.canonical import synced_from_json
from bridge.channels.conflicts import held
from bridge.channels.tables import ChannelFlagRow
from bridge.kpi.compute import PartnerKpi, Window, partner_kpi
from bridge.kpi.query import load_facts
from bridge.ledger import book
from bridge.ledger.balances import Balance, OpenItem, balances, open_items
from bridge.ledger.entries import Entry, EntryKind
from bridge.ledger.tables import LedgerEntryRow
from bridge.mapping.compiled import CompiledMapping, Side
from bridge.model import LinkStatus, Money
from bridge.store import audit, cursors, health, hooks, links
from bridge.store.tables import AuditRow, LinkRow

ZERO = Decimal(0)
QUIET_HOOKS = dt.timedelta(hours=24)
_URL = re.compile(r"\b\w+://\S+")


def scrub(text: str | None) -> str:
    """Error text fit for a page: URLs (which may hold webhook secrets) are cut out."""
    return _URL.sub("[URL]", text or "")[:400]


# --- overview -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartnerOverview:
    code: str
    name: str
    state: str  # ok | failing | paused | unavailable
    reason: str
    last_success: dt.datetime | None
    cursor: dt.datetime | None
    links: Mapping[str, int]
    parked: int
    held: int
    last_hook: dt.datetime | None
    quiet_hooks: bool
    month: PartnerKpi


def _state(
    code: str, mapping: CompiledMapping | None, row: object, live: Mapping[str, str]
) -> tuple[str, str]:
    partner = mapping.partners.get(code) if mapping else None
    if partner is not None and partner.unavailable is not None:
        return "unavailable", partner.unavailable.reason
    if partner is not None and partner.paused:
        return "paused", ""
    if code in live:
        return "failing", scrub(live[code])
    failures = getattr(row, "consecutive_failures", 0)
    if failures:
        kind = getattr(row, "error_kind", "") or ""
        return "failing", scrub(f"{kind}: {getattr(row, 'last_error', '')} (×{failures})")
    return "ok", ""


def month_window(now: dt.datetime) -> Window:
    start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=dt.UTC)
    return Window(start, end)


def overview(
    session: Session,
    mapping: CompiledMapping | None,
    names: Mapping[str, str],
    now: dt.datetime,
    live_failures: Mapping[str, str],
) -> list[PartnerOverview]:
    counts = links.counts_by_status(session)
    rows = health.all_rows(session)
    cursor_of = {c.system.split(":", 1)[-1]: c.value for c in cursors.load_all(session)}
    hook_of = {s.split(":", 1)[-1]: r.last_at for s, r in hooks.all_rows(session).items()}
    held_count = Counter(f.partner_code for f in held(session))
    facts = load_facts(session)
    entries = book.read(session)
    codes = sorted(set(names) | set(counts))
    window = month_window(now)
    out = []
    for code in codes:
        state, reason = _state(code, mapping, rows.get(code), live_failures)
        count = counts.get(code, Counter())
        last_hook = hook_of.get(code)
        out.append(
            PartnerOverview(
                code=code,
                name=names.get(code, code),
                state=state,
                reason=reason,
                last_success=getattr(rows.get(code), "last_success_at", None),
                cursor=cursor_of.get(code),
                links={s.value: count.get(s.value, 0) for s in LinkStatus},
                parked=count.get(LinkStatus.PARKED.value, 0),
                held=held_count.get(code, 0),
                last_hook=last_hook,
                quiet_hooks=last_hook is None or now - last_hook > QUIET_HOOKS,
                month=partner_kpi(
                    code,
                    names.get(code, code),
                    facts,
                    entries,
                    window,
                    now,
                    stale_after=dt.timedelta(days=7),
                ),
            )
        )
    return out


# --- deals ----------------------------------------------------------------------------


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_links(
    session: Session, text: str, partner: str | None = None, limit: int = 100
) -> list[LinkRow]:
    """Links whose agency id, partner deal id or synced values (title, client phone,
    e-mail, name) contain ``text``; newest first. Phones match on their digits too."""
    query = select(LinkRow)
    if partner is not None:
        query = query.where(LinkRow.partner_code == partner)
    text = text.strip()
    if text:
        terms = [text]
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 5 and digits != text:
            terms.append(digits)
        clauses = []
        for term in terms:
            like = _like(term)
            clauses += [
                col(LinkRow.agency_deal_id).like(like, escape="\\"),
                col(LinkRow.partner_deal_id).like(like, escape="\\"),
                col(LinkRow.synced_json).like(like, escape="\\"),
            ]
        query = query.where(or_(*clauses))
    query = query.order_by(col(LinkRow.updated_at).desc(), col(LinkRow.id).desc()).limit(limit)
    return list(session.exec(query))


def synced_values(row: LinkRow) -> dict[str, tuple[str, str]]:
    """Field name → (agency value, partner value) as the two sides last agreed."""
    if not row.synced_json:
        return {}
    try:
        synced = synced_from_json(row.synced_json)
    except (ValueError, KeyError, TypeError):
        return {}
    out: dict[str, tuple[str, str]] = {}
    for name, value in synced.items():
        pair = value if isinstance(value, tuple) and len(value) == 2 else (value, value)
        out[name] = (_show(pair[0]), _show(pair[1]))
    return out


def title_of(row: LinkRow) -> str:
    return synced_values(row).get("title", ("", ""))[0]


def _show(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, Money):
        return f"{value.amount} {value.currency}"
    return str(value)


@dataclass(frozen=True, slots=True)
class DealPage:
    agency_deal_id: str
    links: list[LinkRow]
    trail: list[AuditRow]
    entries: list[LedgerEntryRow]
    voids: Mapping[int, LedgerEntryRow]
    flags: list[ChannelFlagRow] = field(default_factory=list)


def deal_page(session: Session, agency_deal_id: str) -> DealPage | None:
    rows = links.by_agency_ids(session, [agency_deal_id])
    trail = audit.trail(session, agency_deal_id)
    if not rows and not trail:
        return None
    entries = entry_rows(session, deal_id=agency_deal_id)
    flags = list(
        session.exec(select(ChannelFlagRow).where(ChannelFlagRow.agency_deal_id == agency_deal_id))
    )
    return DealPage(agency_deal_id, rows, trail, entries, book.voided_ids(session), flags)


# --- ledger ---------------------------------------------------------------------------


def entry_rows(
    session: Session,
    *,
    partner: str | None = None,
    deal_id: str | None = None,
    kind: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 500,
) -> list[LedgerEntryRow]:
    """Ledger rows (with their ids, for voiding), newest first, filtered."""
    query = select(LedgerEntryRow)
    if partner:
        query = query.where(LedgerEntryRow.partner_code == partner)
    if deal_id is not None:
        query = query.where(LedgerEntryRow.agency_deal_id == deal_id)
    if kind:
        query = query.where(LedgerEntryRow.kind == kind)
    if since is not None:
        query = query.where(col(LedgerEntryRow.occurred_at) >= since)
    if until is not None:
        query = query.where(col(LedgerEntryRow.occurred_at) < until)
    query = query.order_by(col(LedgerEntryRow.occurred_at).desc(), col(LedgerEntryRow.id).desc())
    return list(session.exec(query.limit(limit)))


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    balances: list[Balance]
    due_soon: list[OpenItem]  # payable within the next 7 days, not yet covered
    overdue: list[OpenItem]


def ledger_summary(
    session: Session, now: dt.datetime, partner: str | None = None, days: int = 7
) -> LedgerSummary:
    entries = book.read(session, partner=partner)
    items = open_items(entries, now)
    horizon = now + dt.timedelta(days=days)
    return LedgerSummary(
        balances=balances(entries, now),
        due_soon=[i for i in items if not i.overdue and i.entry.payable_at <= horizon],
        overdue=[i for i in items if i.overdue],
    )


def payable_now(session: Session, partner: str, now: dt.datetime) -> dict[str, Decimal]:
    """What the agency owes ``partner`` and is due by now, per currency (FIFO-covered)."""
    out: dict[str, Decimal] = {}
    for item in open_items(book.read(session, partner=partner), now):
        if item.entry.payer is Side.AGENCY and item.entry.payable_at <= now:
            out[item.entry.currency] = out.get(item.entry.currency, ZERO) + item.outstanding
    return out


def available_for_payout(session: Session, partner: str, now: dt.datetime) -> dict[str, Decimal]:
    """What ``partner`` may still ask for: payable now, less its requests still open."""
    from bridge.cabinet import requests as payout_requests

    out = payable_now(session, partner, now)
    for request in payout_requests.listing(session, partner, open_only=True):
        out[request.currency] = out.get(request.currency, ZERO) - request.amount
    return {currency: amount for currency, amount in out.items() if amount > 0}


def deal_titles(session: Session, partner: str | None = None) -> dict[str, str]:
    """Agency deal id → title as last synced, for statements and entry lists."""
    query = select(LinkRow)
    if partner is not None:
        query = query.where(LinkRow.partner_code == partner)
    return {r.agency_deal_id: t for r in session.exec(query) if (t := title_of(r))}


# --- entry states (the cabinet's words) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryState:
    state: str  # accrued | on_hold | payable | overdue | paid | voided | void | payout
    until: dt.datetime | None = None
    reason: str = ""


def entry_states(
    rows: Sequence[LedgerEntryRow],
    all_entries: Sequence[Entry],
    voids: Mapping[int, LedgerEntryRow],
    now: dt.datetime,
) -> dict[int, EntryState]:
    """Each row's state for a partner: a void names its reason; a positive entry is
    paid once payouts cover it, overdue past its date, payable at it, on hold before."""
    outstanding: dict[tuple[str, str, str], Decimal] = {}
    overdue_keys: set[tuple[str, str, str]] = set()
    for item in open_items(all_entries, now):
        outstanding[item.entry.key] = item.outstanding
        if item.overdue:
            overdue_keys.add(item.entry.key)
    out: dict[int, EntryState] = {}
    for row in rows:
        assert row.id is not None
        key = (row.partner_code, row.agency_deal_id, row.cause)
        if row.id in voids:
            out[row.id] = EntryState("voided", reason=voids[row.id].ref or "")
        elif row.rule == book.VOID_RULE:
            out[row.id] = EntryState("void", reason=row.ref or "")
        elif row.kind == EntryKind.PAYOUT.value:
            out[row.id] = EntryState("payout")
        elif row.amount <= 0 or key not in outstanding:
            out[row.id] = EntryState("paid" if row.amount > 0 else "accrued")
        elif key in overdue_keys:
            out[row.id] = EntryState("overdue", row.payable_at)
        elif row.payable_at <= now:
            out[row.id] = EntryState("payable", row.payable_at)
        elif row.payable_at > row.occurred_at + dt.timedelta(days=1):
            out[row.id] = EntryState("on_hold", row.payable_at)
        else:
            out[row.id] = EntryState("accrued", row.payable_at)
    return out
