"""Incremental polling by modification time: closed start, overlap, boundary rows, watermark.

A window lists every deal modified at or after ``cursor - overlap``. Rows already
applied at an unchanged modification time (the *boundary*, kept as
``"id@time"``) are dropped, so the overlap repeats nothing and a clock skew or a
same-second edit skips nothing. The cursor only moves in :func:`commit`, which the
engine calls after the window's plans are committed, and only to the listing's
watermark — the CRM's time when the listing started — never to "now".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bridge.crm import Crm
from bridge.model import Deal
from bridge.store import cursors
from bridge.store.cursors import Cursor
from bridge.store.db import Store

DEFAULT_OVERLAP = dt.timedelta(seconds=5)
BEGINNING = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Window:
    """One listing: the deals to handle, and where the cursor may go once they are applied."""

    system: str
    cursor: Cursor
    deals: tuple[Deal, ...]
    watermark: dt.datetime
    seen: frozenset[str]  # "id@time" of every row listed, skipped or not
    pages: int


def _mark(deal: Deal) -> str:
    return f"{deal.id}@{deal.updated_at.isoformat()}"


def since(cursor: Cursor, overlap: dt.timedelta) -> dt.datetime:
    return BEGINNING if cursor.value is None else cursor.value - overlap


def fetch(store: Store, crm: Crm, overlap: dt.timedelta = DEFAULT_OVERLAP) -> Window:
    """List what changed since the stored cursor; nothing is written."""
    with store.transaction() as session:
        cursor = cursors.load(session, crm.system)
    latest: dict[str, Deal] = {}
    watermark: dt.datetime | None = None
    pages = 0
    for page in crm.list_changed(since(cursor, overlap)):
        pages += 1
        watermark = page.watermark if watermark is None else min(watermark, page.watermark)
        for deal in page.deals:
            known = latest.get(deal.id)
            if known is None or deal.updated_at > known.updated_at:
                latest[deal.id] = deal
    if watermark is None:
        raise RuntimeError(f"{crm.system}: list_changed yielded no page")
    boundary = set(cursor.boundary_ids)
    fresh = tuple(d for d in latest.values() if _mark(d) not in boundary)
    seen = frozenset(_mark(d) for d in latest.values())
    return Window(crm.system, cursor, fresh, watermark, seen, pages)


def commit(store: Store, window: Window, now: dt.datetime, overlap: dt.timedelta) -> Cursor:
    """Advance the cursor to the window's watermark (never back, never past it)."""
    value = window.watermark
    if window.cursor.value is not None:
        value = max(value, window.cursor.value)
    with store.transaction() as session:
        return cursors.save(session, window.cursor, value, boundary(window, value, overlap), now)


def boundary(window: Window, value: dt.datetime, overlap: dt.timedelta) -> list[str]:
    """Rows the next window (starting at ``value - overlap``) will list again unchanged.

    Only rows modified before the second of the watermark count: the CRMs keep
    modification times in whole seconds, so a row stamped in the watermark's own
    second may be edited again within that second after it was listed — same mark,
    new content. Such rows are listed and planned once more (a no-op if unchanged)
    instead of being dropped as already applied."""
    start = value - overlap
    settled = window.watermark.replace(microsecond=0)
    marks = {*window.cursor.boundary_ids, *window.seen}
    return sorted(m for m in marks if start <= _time(m) < settled)


def _time(mark: str) -> dt.datetime:
    return dt.datetime.fromisoformat(mark.rsplit("@", 1)[1])


def deal_ids(deals: Iterable[Deal]) -> list[str]:
    return [d.id for d in deals]
