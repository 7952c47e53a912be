"""The change feed over ``GET /api/v4/leads`` without gaps while leads change.

amoCRM pages by number only (``page``/``limit``), and numbered pages over a
set that changes underneath shift: a lead edited during the listing jumps to
the end of an ``updated_at`` ordering, every later lead moves one place up, and
the lead at the page boundary is never returned. So the feed pages by key:
each request asks again for ``updated_at >= cursor`` (page 1), where ``cursor``
is the newest ``updated_at`` seen, and drops the ``(id, updated_at)`` pairs it
already returned. Nothing older than the cursor can be missed, because a lead
only ever moves to a *later* ``updated_at``.

The one place numbered pages remain is a single second holding more leads than
a page (mass imports): that second is walked by ``order[id]`` page by page.
Leads can only leave such a past second, never enter it; a lead that leaves
reappears later in this same listing with its new time, which tells us pages may
have shifted, and then the second is walked again until a pass adds nothing.

The watermark is the server's clock at the first response, and the query starts
``OVERLAP`` seconds before ``since``: updated_at has one-second resolution, and
a write can land in the second before the clock reading that answers us.

:func:`changes` reads through the adapter's transport; :func:`pages` is the pure
walk over any ``fetch`` (what the tests drive with a simulated lead list).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the transport pulls in requests; the walk itself does not
    from bridge.amocrm.transport import Transport

LEADS = "/api/v4/leads"
PAGE = 250
OVERLAP = 1
MAX_BUCKET_PASSES = 4

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Window:
    """One request: ``updated_at`` in [``start``, ``end``] (``end`` None = open), page ``page``."""

    start: int
    end: int | None = None
    page: int = 1
    by_id: bool = False


# fetch(window) -> (rows, server time of the answer)
Fetch = Callable[[Window], tuple[Sequence[Row], dt.datetime | None]]


@dataclass(slots=True)
class _State:
    seen: dict[str, int] = field(default_factory=dict)
    buckets: dict[int, set[str]] = field(default_factory=dict)
    watermark: dt.datetime | None = None

    def fresh(self, rows: Sequence[Row]) -> list[Row]:
        new = [r for r in rows if self.seen.get(str(r["id"])) != int(r["updated_at"])]
        for row in new:
            self.seen[str(row["id"])] = int(row["updated_at"])
        return new

    def moved_out_of(self, second: int) -> bool:
        return any(self.seen[i] != second for i in self.buckets.get(second, ()))


class _Feed:
    """Yields lists of raw lead rows changed at or after ``since``, and the watermark."""

    def __init__(self, fetch: Fetch, *, now: Callable[[], dt.datetime]) -> None:
        self._fetch = fetch
        self._now = now  # fallback only when the server sends no Date

    def _get(self, state: _State, window: Window) -> Sequence[Row]:
        rows, when = self._fetch(window)
        if state.watermark is None:
            state.watermark = when or self._now()
        return rows

    def pages(self, since: dt.datetime) -> Iterator[tuple[list[Row], dt.datetime]]:
        state = _State()
        yielded = False
        for rows in self._scan(state, int(since.timestamp()) - OVERLAP):
            assert state.watermark is not None
            yielded = True
            yield rows, state.watermark
        if not yielded:
            assert state.watermark is not None
            yield [], state.watermark

    def _scan(self, state: _State, cursor: int) -> Iterator[list[Row]]:
        while True:
            rows = self._get(state, Window(cursor))
            new = state.fresh(rows)
            if new:
                yield new
            if len(rows) < PAGE:
                break
            last = max(int(r["updated_at"]) for r in rows)
            crowded = sum(1 for r in rows if int(r["updated_at"]) == last) * 2 >= len(rows)
            if crowded:
                yield from self._bucket(state, last)
                cursor = last + 1
            else:
                cursor = last
        for second in sorted(state.buckets):
            yield from self._recheck(state, second)

    def _bucket(self, state: _State, second: int) -> Iterator[list[Row]]:
        """Walk one crowded second by id; return the ids it holds."""
        ids = state.buckets.setdefault(second, set())
        page = 1
        while True:
            rows = self._get(state, Window(second, second, page, by_id=True))
            ids.update(str(r["id"]) for r in rows)
            new = state.fresh(rows)
            if new:
                yield new
            if len(rows) < PAGE:
                return
            page += 1

    def _recheck(self, state: _State, second: int) -> Iterator[list[Row]]:
        for _ in range(MAX_BUCKET_PASSES):
            if not state.moved_out_of(second):
                return
            before = len(state.seen)
            state.buckets[second] = {i for i in state.buckets[second] if state.seen[i] == second}
            yield from self._bucket(state, second)
            if len(state.seen) == before:
                return


def pages(
    fetch: Fetch, since: dt.datetime, *, now: Callable[[], dt.datetime]
) -> Iterator[tuple[list[Row], dt.datetime]]:
    """Raw lead rows changed at or after ``since``, page by page, each with the watermark.

    ``now`` is the fallback clock, used only when the server sends no ``Date``.
    """
    return _Feed(fetch, now=now).pages(since)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def changes(transport: Transport, since: dt.datetime) -> Iterator[tuple[list[Row], dt.datetime]]:
    """:func:`pages` over ``GET /api/v4/leads`` (with contacts) through ``transport``."""

    def fetch(window: Window) -> tuple[list[Row], dt.datetime | None]:
        params: dict[str, Any] = {
            "filter[updated_at][from]": window.start,
            "with": "contacts",
            "limit": PAGE,
            "page": window.page,
        }
        if window.end is not None:
            params["filter[updated_at][to]"] = window.end
        params["order[id]" if window.by_id else "order[updated_at]"] = "asc"
        reply = transport.request("GET", LEADS, params=params)
        payload = reply.payload if isinstance(reply.payload, dict) else {}
        rows = list((payload.get("_embedded") or {}).get("leads") or [])
        return rows, reply.server_time

    return pages(fetch, since, now=_utcnow)
