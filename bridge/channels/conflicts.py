"""Channel conflicts: the same client handed to two partners within a window.

The sync engine screens its new partner deals with :func:`screen_new_handovers`
right before it creates them, and records what actually went out with
:func:`record_handover` once a partner deal exists. Handing the *same* agency deal
to several partners (a multi-value routing field) is deliberate and never a conflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bridge.channels import normalise
from bridge.channels.normalise import Fingerprint, Kind
from bridge.channels.tables import ChannelFlagRow, ChannelHandoverRow
from bridge.model import Company, Contact, Hint, HintKind, Note, bridge_note
from bridge.notices import Notices
from bridge.store import inbox
from bridge.store.bulk import execute_tuples

_CHUNK = 500


def fingerprints_of(
    contact: Contact | None, company: Company | None = None, website: str | None = None
) -> frozenset[Fingerprint]:
    """Every identifier of the client that normalises; invalid ones are left out."""
    phones = [*(contact.phones if contact else ()), *(company.phones if company else ())]
    emails = [*(contact.emails if contact else ()), *(company.emails if company else ())]
    pairs: list[tuple[Kind, str | None]] = [(Kind.PHONE, normalise.phone(p)) for p in phones]
    pairs += [(Kind.EMAIL, normalise.email(e)) for e in emails]
    if company is not None and company.tax_id:
        pairs.append((Kind.INN, normalise.inn(company.tax_id)))
    if website:
        pairs.append((Kind.DOMAIN, normalise.domain(website)))
    return frozenset(Fingerprint(kind, value) for kind, value in pairs if value)


@dataclass(frozen=True, slots=True)
class Handover:
    partner_code: str
    agency_deal_id: str
    handed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Conflict:
    """``agency_deal_id`` for ``partner_code`` matches what ``earlier`` already received."""

    agency_deal_id: str
    partner_code: str
    earlier: Handover
    matches: tuple[Fingerprint, ...]


def check_conflicts(
    session: Session,
    fingerprints: Iterable[Fingerprint],
    partner_code: str,
    now: dt.datetime,
    window: dt.timedelta,
    *,
    agency_deal_id: str = "",
) -> list[Conflict]:
    """Earlier handovers of these fingerprints to *other* partners within ``window``."""
    wanted = set(fingerprints)
    found = [
        (
            Handover(r.partner_code, r.agency_deal_id, r.handed_at),
            Fingerprint(Kind(r.kind), r.value),
        )
        for r in _rows_for(session, wanted)
    ]
    return _conflicts(found, agency_deal_id, partner_code, now, window)


def known_clients(
    session: Session, fingerprints: Iterable[Fingerprint], now: dt.datetime, window: dt.timedelta
) -> list[tuple[Handover, Fingerprint]]:
    """Every handover (to any partner, this one included) of these fingerprints within
    ``window``, oldest first: the agency already has this client (a partner-registered
    lead for it is screened with this)."""
    found = [
        (
            Handover(r.partner_code, r.agency_deal_id, r.handed_at),
            Fingerprint(Kind(r.kind), r.value),
        )
        for r in _rows_for(session, set(fingerprints))
        if now - window <= r.handed_at <= now
    ]
    return sorted(found, key=lambda pair: (pair[0].handed_at, pair[0].agency_deal_id))


def _rows_for(session: Session, wanted: set[Fingerprint]) -> list[ChannelHandoverRow]:
    """The stored handovers of these fingerprints: per kind, one query per 500 values,
    each an index look-up on ``(kind, value)`` (a filter on the value alone would scan
    the whole table, which grows with every deal handed over)."""
    by_kind: dict[str, set[str]] = {}
    for fingerprint in wanted:
        by_kind.setdefault(fingerprint.kind.value, set()).add(fingerprint.value)
    rows: list[ChannelHandoverRow] = []
    for kind, found in sorted(by_kind.items()):
        values = sorted(found)
        for start in range(0, len(values), _CHUNK):
            query = select(ChannelHandoverRow).where(
                ChannelHandoverRow.kind == kind,
                col(ChannelHandoverRow.value).in_(values[start : start + _CHUNK]),
            )
            rows.extend(session.exec(query))
    return rows


def _stored_keys(
    connection: Connection, table: Table, wanted: set[Fingerprint]
) -> set[tuple[str, str, str, str]]:
    """(agency deal id, partner code, kind, value) of the stored handovers of these
    fingerprints, read as plain rows: one query per 500 fingerprints, each kind's values
    an index look-up on ``(kind, value)`` as in :func:`_rows_for`."""
    pairs = sorted((f.kind.value, f.value) for f in wanted)
    columns = (table.c.agency_deal_id, table.c.partner_code, table.c.kind, table.c.value)
    keys: set[tuple[str, str, str, str]] = set()
    for start in range(0, len(pairs), _CHUNK):
        by_kind: dict[str, list[str]] = {}
        for kind, value in pairs[start : start + _CHUNK]:
            by_kind.setdefault(kind, []).append(value)
        found = or_(*(and_(table.c.kind == k, table.c.value.in_(v)) for k, v in by_kind.items()))
        query = sa_select(*columns).where(found)
        keys.update((a, c, k, v) for a, c, k, v in connection.execute(query))
    return keys


def _conflicts(
    found: Iterable[tuple[Handover, Fingerprint]],
    agency_deal_id: str,
    partner_code: str,
    now: dt.datetime,
    window: dt.timedelta,
) -> list[Conflict]:
    grouped: dict[Handover, set[Fingerprint]] = {}
    for handover, fingerprint in found:
        if handover.partner_code == partner_code or handover.agency_deal_id == agency_deal_id:
            continue
        if not now - window <= handover.handed_at <= now:
            continue
        grouped.setdefault(handover, set()).add(fingerprint)
    ordered = sorted(grouped, key=lambda h: (h.handed_at, h.partner_code, h.agency_deal_id))
    return [Conflict(agency_deal_id, partner_code, h, tuple(sorted(grouped[h]))) for h in ordered]


def record_handover(
    session: Session,
    agency_deal_id: str,
    partner_code: str,
    fingerprints: Iterable[Fingerprint],
    now: dt.datetime,
) -> int:
    """Remember what went out with this partner deal; repeats are no-ops. Rows added."""
    wanted = set(fingerprints)
    existing = {
        Fingerprint(Kind(r.kind), r.value)
        for r in _rows_for(session, wanted)
        if r.partner_code == partner_code and r.agency_deal_id == agency_deal_id
    }
    for fp in sorted(wanted - existing):
        session.add(
            ChannelHandoverRow(
                kind=fp.kind.value,
                value=fp.value,
                partner_code=partner_code,
                agency_deal_id=agency_deal_id,
                handed_at=now,
            )
        )
    session.flush()
    return len(wanted - existing)


def record_handovers(
    session: Session,
    handovers: Iterable[tuple[str, str, Iterable[Fingerprint]]],
    now: dt.datetime,
) -> int:
    """:func:`record_handover` for many (agency deal id, partner code, fingerprints) at
    once: the rows already stored are read with one query per 500 values, the new ones
    added in one flush. Rows added."""
    wanted = [(agency, code, set(prints)) for agency, code, prints in handovers]
    everything = {fp for _, _, prints in wanted for fp in prints}
    if not everything:
        return 0
    session.flush()
    connection = session.connection()
    table = ChannelHandoverRow.__table__  # type: ignore[attr-defined]
    existing = _stored_keys(connection, table, everything)
    rows: list[tuple[str, str, str, str, dt.datetime]] = []
    for agency, code, prints in wanted:
        for fp in sorted(prints):
            key = (agency, code, fp.kind.value, fp.value)
            if key in existing:
                continue
            existing.add(key)
            rows.append((fp.kind.value, fp.value, code, agency, now))
    # one bulk insert of plain rows, no ORM object per row
    execute_tuples(
        connection,
        table.insert(),
        ("kind", "value", "partner_code", "agency_deal_id", "handed_at"),
        rows,
    )
    return len(rows)


@dataclass(frozen=True, slots=True)
class Draft:
    """A partner deal about to be created, with the client it carries."""

    agency_deal_id: str
    partner_code: str
    contact: Contact | None = None
    company: Company | None = None
    website: str | None = None


@dataclass(frozen=True, slots=True)
class ScreenResult:
    flagged: list[Conflict] = field(default_factory=list)  # newly flagged in this screening
    held: set[tuple[str, str]] = field(default_factory=set)  # (agency deal id, partner) not to send
    comments: list[Note] = field(default_factory=list)  # timeline comments for the agency deals
    # (agency deal id, partner) held → what matched, e.g. "ИНН 7707083893 (deal 12, alfa, …)"
    matched: dict[tuple[str, str], str] = field(default_factory=dict)
    # (agency deal id, partner) → the client's fingerprints as screened: what its handover
    # records once the deal exists (normalising phones is most of a large pass's screening)
    prints: dict[tuple[str, str], frozenset[Fingerprint]] = field(default_factory=dict)


_MATCH_LABELS = {Kind.PHONE: "phone", Kind.EMAIL: "e-mail", Kind.INN: "ИНН", Kind.DOMAIN: "website"}


def match_summary(conflicts: Sequence[Conflict]) -> str:
    """What the held deal shares with earlier hand-overs, for the park reason."""
    return "; ".join(
        ", ".join(f"{_MATCH_LABELS.get(m.kind, m.kind.value)} {m.value}" for m in c.matches)
        + f" (deal {c.earlier.agency_deal_id}, {c.earlier.partner_code}, "
        + f"{c.earlier.handed_at:%Y-%m-%d})"
        for c in conflicts
    )


def screen_new_handovers(
    session: Session,
    drafts: Sequence[Draft],
    now: dt.datetime,
    window: dt.timedelta,
    hold: bool,
    *,
    notices: Notices | None = None,
    partner_names: Mapping[str, str] | None = None,
) -> ScreenResult:
    """Flag drafts whose client already went to another partner; hold them if ``hold``.

    A deal is flagged (and commented on) once; a held deal stays held until
    :func:`confirm`. Drafts earlier in the same batch count as handed over ``now``.
    """
    result = ScreenResult()
    # Earlier drafts of this batch, by fingerprint: each draft looks up only its own
    # identifiers, so a first pass of thousands of deals stays linear.
    batch: dict[Fingerprint, list[Handover]] = {}
    texts = notices or Notices()
    printed = [(d, fingerprints_of(d.contact, d.company, d.website)) for d in drafts]
    result.prints.update(((d.agency_deal_id, d.partner_code), p) for d, p in printed)
    # What the store already holds for all drafts, read once (one query per 500 values)
    # instead of two queries per draft; the loop adds flags only, never handovers.
    flags = _flags(session, drafts)
    stored: dict[Fingerprint, list[Handover]] = {}
    for row in _rows_for(session, {f for _, prints in printed for f in prints}):
        handover = Handover(row.partner_code, row.agency_deal_id, row.handed_at)
        stored.setdefault(Fingerprint(Kind(row.kind), row.value), []).append(handover)
    for draft, prints in printed:
        flag = flags.get((draft.agency_deal_id, draft.partner_code))
        conflicts: list[Conflict] = []
        if flag is None or (flag.held and flag.confirmed_at is None):
            conflicts = _conflicts(
                [(h, f) for f in prints for h in stored.get(f, ())],
                draft.agency_deal_id,
                draft.partner_code,
                now,
                window,
            )
            conflicts += _conflicts(
                [(h, f) for f in prints for h in batch.get(f, ())],
                draft.agency_deal_id,
                draft.partner_code,
                now,
                window,
            )
        if flag is None and conflicts:
            flag = _new_flag(session, draft, conflicts, now, hold, texts, partner_names or {})
            flags[(draft.agency_deal_id, draft.partner_code)] = flag
            result.flagged.extend(conflicts)
            result.comments.append(Note(draft.agency_deal_id, bridge_note(flag.detail or "")))
        if flag is not None and flag.held and flag.confirmed_at is None:
            key = (draft.agency_deal_id, draft.partner_code)
            result.held.add(key)
            result.matched[key] = match_summary(conflicts)
            continue
        handover = Handover(draft.partner_code, draft.agency_deal_id, now)
        for fingerprint in prints:
            batch.setdefault(fingerprint, []).append(handover)
    return result


def _flags(session: Session, drafts: Sequence[Draft]) -> dict[tuple[str, str], ChannelFlagRow]:
    """The stored flags of these drafts' (agency deal id, partner code)."""
    wanted = {(d.agency_deal_id, d.partner_code) for d in drafts}
    ids = sorted({agency for agency, _ in wanted})
    found: dict[tuple[str, str], ChannelFlagRow] = {}
    for start in range(0, len(ids), _CHUNK):
        query = select(ChannelFlagRow).where(
            col(ChannelFlagRow.agency_deal_id).in_(ids[start : start + _CHUNK])
        )
        for row in session.exec(query):
            key = (row.agency_deal_id, row.partner_code)
            if key in wanted:
                found.setdefault(key, row)
    return found


def _flag(session: Session, draft: Draft) -> ChannelFlagRow | None:
    query = select(ChannelFlagRow).where(
        ChannelFlagRow.agency_deal_id == draft.agency_deal_id,
        ChannelFlagRow.partner_code == draft.partner_code,
    )
    return session.exec(query).first()


def _new_flag(
    session: Session,
    draft: Draft,
    conflicts: Sequence[Conflict],
    now: dt.datetime,
    hold: bool,
    texts: Notices,
    names: Mapping[str, str],
) -> ChannelFlagRow:
    text = conflict_comment(conflicts, texts, names, held=hold)
    row = ChannelFlagRow(
        agency_deal_id=draft.agency_deal_id,
        partner_code=draft.partner_code,
        flagged_at=now,
        held=hold,
        detail=text,
    )
    session.add(row)
    session.flush()
    return row


def conflict_comment(
    conflicts: Sequence[Conflict], texts: Notices, names: Mapping[str, str], *, held: bool
) -> str:
    """The timeline comment for the agency deal: one sentence per earlier handover."""
    lines = [
        texts.render(
            "channel_conflict",
            partner=names.get(c.earlier.partner_code, c.earlier.partner_code),
            date=texts.date(c.earlier.handed_at),
            deal=c.earlier.agency_deal_id,
            matches=", ".join(
                texts.render(f"match_{m.kind.value}", value=m.value) for m in c.matches
            ),
        )
        for c in conflicts
    ]
    if held:
        target = conflicts[0].partner_code
        lines.append(texts.render("channel_hold", target=names.get(target, target)))
    return "\n".join(lines)


def confirm(
    session: Session,
    agency_deal_id: str,
    partner_code: str,
    now: dt.datetime,
    *,
    agency_system: str | None = None,
) -> bool:
    """A manager's go-ahead for a held deal; False if there was nothing held.

    With ``agency_system`` (the agency CRM's label, e.g. ``bitrix24:agency``) the deal
    is also queued in the hint inbox, so the next pass creates the partner deal.
    """
    row = _flag(session, Draft(agency_deal_id, partner_code))
    if row is None or not row.held or row.confirmed_at is not None:
        return False
    row.confirmed_at = now
    session.add(row)
    if agency_system is not None:
        hint = Hint(agency_system, agency_deal_id, HintKind.UPDATED, now, "confirm")
        inbox.add(session, [hint], dt.timedelta(0))
    return True


def held(session: Session, partner_code: str | None = None) -> list[ChannelFlagRow]:
    """Flags still waiting for a manager, oldest first."""
    query = select(ChannelFlagRow).where(
        col(ChannelFlagRow.held).is_(True), col(ChannelFlagRow.confirmed_at).is_(None)
    )
    if partner_code is not None:
        query = query.where(ChannelFlagRow.partner_code == partner_code)
    return list(session.exec(query.order_by(col(ChannelFlagRow.flagged_at))))
