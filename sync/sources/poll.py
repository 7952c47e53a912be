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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bridge.crm import Crm
from bridge.model import Deal
from bridge.store import cursors
from bridge.store.cursors import Cursor
from bridge.store.db import Store
from sync.lanes import whole_from_env

DEFAULT_OVERLAP = dt.timedelta(seconds=5)
CHUNK_ENV = "BRIDGE_PASS_CHUNK"
# Agency deals a pass handles at once (one Bitrix24 listing request reads 2,500): a first
# mirror of 100,000 deals is fetched, planned, applied and recorded 2,500 at a time.
DEFAULT_CHUNK = 2_500
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


def chunk_from_env(default: int = DEFAULT_CHUNK) -> int:
    """How many agency deals a pass handles at once; a bad value says so in one line."""
    return whole_from_env(CHUNK_ENV, default, "deals")


def _mark(deal: Deal) -> str:
    return f"{deal.id}@{deal.updated_at.isoformat()}"


def since(cursor: Cursor, overlap: dt.timedelta) -> dt.datetime:
    return BEGINNING if cursor.value is None else cursor.value - overlap


def fetch(
    store: Store, crm: Crm, overlap: dt.timedelta = DEFAULT_OVERLAP, cursor: Cursor | None = None
) -> Window:
    """List what changed since the stored cursor (or ``cursor``, read from the store just
    before); nothing is written."""
    if cursor is None:
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


@dataclass
class Listing:
    """One window read chunk by chunk, so a large one (a first mirror) is never held whole.

    :meth:`chunks` yields the window's deals as windows of at most ``size`` deals each
    (the CRM's pages, joined), each carrying the listing's watermark; :meth:`window` is
    then the window the cursor moves by — its watermark and the boundary rows it saw, no
    deals. Only the boundary rows the cursor can need are kept (those at or after the
    watermark less the overlap), so memory does not grow with the window. A deal listed
    twice (it changed during the listing) is handled in each chunk it is in: the later
    chunk holds the newer version.
    """

    store: Store
    crm: Crm
    overlap: dt.timedelta
    size: int
    cursor: Cursor | None = None
    watermark: dt.datetime | None = None
    pages: int = 0
    _seen: set[str] = field(default_factory=set)

    def chunks(self) -> Iterator[Window]:
        with self.store.transaction() as session:
            self.cursor = cursors.load(session, self.crm.system)
        boundary = set(self.cursor.boundary_ids)
        held: dict[str, Deal] = {}
        yielded = False
        for page in self.crm.list_changed(since(self.cursor, self.overlap)):
            self.pages += 1
            if self.watermark is None or page.watermark < self.watermark:
                self.watermark = page.watermark
            for deal in page.deals:
                known = held.get(deal.id)
                if known is None or deal.updated_at > known.updated_at:
                    held[deal.id] = deal
            if len(held) >= self.size:
                yield self._chunk(held, boundary)
                held, yielded = {}, True
        if self.watermark is None:
            raise RuntimeError(f"{self.crm.system}: list_changed yielded no page")
        if held or not yielded:
            yield self._chunk(held, boundary)

    def _chunk(self, held: dict[str, Deal], boundary: set[str]) -> Window:
        assert self.cursor is not None and self.watermark is not None
        start = self.watermark - self.overlap
        marks = {_mark(d) for d in held.values()}
        self._seen.update(m for m in marks if _time(m) >= start)
        fresh = tuple(d for d in held.values() if _mark(d) not in boundary)
        return Window(self.crm.system, self.cursor, fresh, self.watermark, frozenset(), self.pages)

    def window(self) -> Window:
        """The whole listing, once every chunk is read: where its cursor may move."""
        if self.cursor is None or self.watermark is None:
            raise RuntimeError(f"{self.crm.system}: the listing was not read to its end")
        start = self.watermark - self.overlap
        seen = frozenset(m for m in self._seen if _time(m) >= start)
        return Window(self.crm.system, self.cursor, (), self.watermark, seen, self.pages)


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
