"""Membership fees per contract year against the store: what the daily job and
``bridge ledger fees`` book (or preview).

A partner's contract starts on its ``joined:`` date in the mapping, else on its first
sync (a partner with neither owes nothing yet). The fees owed here begin with the
contract year in progress at the partner's first sync (or, never synced, today): a
partner that joined years before the bridge is not billed for every past year at once.
"Today" is judged in the programme's time zone (``agency.timezone``). Booking is
idempotent: each contract year's fee has its own cause, so running twice books once.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bridge.ledger import book
from bridge.ledger.entries import Entry
from bridge.mapping.compiled import Commission, CompiledMapping
from bridge.mapping.resolve_commission import membership_fee
from bridge.mapping.spec import MappingSpec
from bridge.model import Money
from bridge.store import starts
from bridge.store.db import Store


@dataclass(frozen=True, slots=True)
class FeeTerms:
    code: str
    fee: Money | None
    joined: dt.date | None


def terms_of(mapping: CompiledMapping | MappingSpec) -> list[FeeTerms]:
    if isinstance(mapping, CompiledMapping):
        return [
            FeeTerms(c, p.commission.membership_fee, p.joined) for c, p in mapping.partners.items()
        ]
    return [FeeTerms(c, membership_fee(p), p.joined) for c, p in mapping.partners.items()]


def local_today(now: dt.datetime, timezone: str) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def book_fees(
    store: Store,
    mapping: CompiledMapping | MappingSpec,
    now: dt.datetime,
    *,
    today: dt.date | None = None,
    dry_run: bool = False,
    only: str | None = None,
) -> list[Entry]:
    """Book (or with ``dry_run`` list) every membership fee due by ``today`` not yet booked."""
    day = today or local_today(now, mapping.agency.timezone)
    return accrue(store, terms_of(mapping), day, now, dry_run=dry_run, only=only)


def accrue(
    store: Store,
    terms: Iterable[FeeTerms],
    today: dt.date,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    only: str | None = None,
) -> list[Entry]:
    out: list[Entry] = []
    with store.transaction() as session:
        begun: Mapping[str, dt.datetime] = starts.read(session)
        for term in sorted(terms, key=lambda t: t.code):
            if term.fee is None or (only is not None and term.code != only):
                continue
            first_sync = begun.get(term.code)
            started = term.joined or (first_sync.date() if first_sync else None)
            out += book.accrue_membership(
                session,
                term.code,
                Commission(membership_fee=term.fee),
                today,
                now,
                started=started,
                not_before=first_sync.date() if first_sync else today,
                dry_run=dry_run,
            )
    return out
