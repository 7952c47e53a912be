"""The amoCRM change feed over a simulated lead list that changes while it is paged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from bridge.amocrm.listing import PAGE, Row, Window, pages

T0 = 1_800_000_000
SERVER_NOW = dt.datetime.fromtimestamp(T0 + 100, tz=dt.UTC)


class FakeLeads:
    """``GET /api/v4/leads`` with amoCRM's numbered pages over a mutable set."""

    def __init__(self, updated: dict[int, int]) -> None:
        self.updated = dict(updated)
        self.requests: list[Window] = []
        self.after_request: Callable[[int], None] = lambda n: None
        self.now = T0 + 100

    def touch(self, lead: int) -> None:
        self.now += 1
        self.updated[lead] = self.now

    def fetch(self, window: Window) -> tuple[Sequence[Row], dt.datetime | None]:
        self.requests.append(window)
        chosen = [
            (lead, at)
            for lead, at in self.updated.items()
            if at >= window.start and (window.end is None or at <= window.end)
        ]
        chosen.sort(key=lambda p: p[0] if window.by_id else (p[1], p[0]))
        page = chosen[(window.page - 1) * PAGE : window.page * PAGE]
        rows = [{"id": lead, "updated_at": at} for lead, at in page]
        self.after_request(len(self.requests))
        return rows, SERVER_NOW


def _listing(leads: FakeLeads, since: int) -> tuple[dict[int, int], set[dt.datetime]]:
    epoch = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    seen: dict[int, int] = {}
    marks: set[dt.datetime] = set()
    for rows, watermark in pages(
        leads.fetch, epoch, now=lambda: dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    ):
        seen.update({int(r["id"]): int(r["updated_at"]) for r in rows})
        marks.add(watermark)
    return seen, marks


def test_leads_moving_to_the_end_during_paging_skip_nobody() -> None:
    # 1000 leads, each its own second: numbered pages would skip one per mover.
    leads = FakeLeads({n: T0 + n for n in range(1000)})

    def edit_three(request: int) -> None:
        for lead in (request, request + 1, request + 2):
            leads.touch(lead)

    leads.after_request = edit_three
    seen, marks = _listing(leads, T0)
    assert set(seen) == set(range(1000))
    assert marks == {SERVER_NOW}, "the watermark is the server's clock at the first answer"


def test_a_crowded_second_is_walked_by_id_and_rechecked_when_leads_leave_it() -> None:
    leads = FakeLeads({n: T0 for n in range(700)} | {n: T0 + 5 for n in range(700, 710)})

    def edit_early_leads(request: int) -> None:
        if request == 2:  # while the crowded second is walked page by page
            for lead in range(40):
                leads.touch(lead)

    leads.after_request = edit_early_leads
    seen, _ = _listing(leads, T0)
    assert set(seen) == set(range(710))
    walks = [w for w in leads.requests if w.by_id]
    assert walks and all(w.start == w.end == T0 for w in walks)
    assert sum(1 for w in walks if w.page == 1) == 2, "the second was walked again"


def test_a_quiet_crowded_second_is_walked_once() -> None:
    leads = FakeLeads({n: T0 for n in range(600)})
    seen, _ = _listing(leads, T0)
    assert len(seen) == 600
    # The keyset query that found the crowd, three pages of it, and one query past it.
    assert len(leads.requests) == 1 + 3 + 1


def test_nothing_changed_is_one_empty_page_with_the_server_watermark() -> None:
    leads = FakeLeads({1: T0})
    since = dt.datetime.fromtimestamp(T0 + 50, tz=dt.UTC)
    found = list(pages(leads.fetch, since, now=lambda: dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    assert found == [([], SERVER_NOW)]


def test_listing_starts_one_second_early_and_returns_each_version_once() -> None:
    leads = FakeLeads({1: T0 - 1, 2: T0 - 2, 3: T0 + 3})
    seen, _ = _listing(leads, T0)
    assert seen == {1: T0 - 1, 3: T0 + 3}


def test_server_time_reads_the_last_date_when_several_were_sent() -> None:
    from bridge.amocrm.transport import server_time

    merged = "Tue, 24 Nov 2026 23:04:57 GMT, Tue, 24 Nov 2026 23:06:37 GMT"
    assert server_time(merged) == dt.datetime(2026, 11, 24, 23, 6, 37, tzinfo=dt.UTC)
    assert server_time("Tue, 24 Nov 2026 23:04:57 GMT") == dt.datetime(
        2026, 11, 24, 23, 4, 57, tzinfo=dt.UTC
    )
    assert server_time("") is None
