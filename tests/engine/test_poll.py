from __future__ import annotations

import datetime as dt

from bridge.sandbox.memory import ManualClock, MemoryCrm
from bridge.store import cursors
from bridge.store.db import Store
from sync.sources import poll
from tests.engine.world import AGENCY_PIPELINE, T0

OVERLAP = dt.timedelta(seconds=5)


def _crm() -> MemoryCrm:
    return MemoryCrm("bitrix24:agency", [AGENCY_PIPELINE], clock=ManualClock(T0), page_size=2)


def _seed(crm: MemoryCrm, n: int) -> list[str]:
    return [
        crm.seed(title=f"d{i}", pipeline_id="7", stage_id="C7:NEW", amount=None).id
        for i in range(n)
    ]


def test_cursor_moves_to_the_watermark_only_after_commit(tmp_path: object) -> None:
    store, crm = Store.open(f"sqlite:///{tmp_path}/p.db"), _crm()
    _seed(crm, 5)
    window = poll.fetch(store, crm, OVERLAP)
    assert len(window.deals) == 5 and window.pages == 3
    crm.clock.advance(30)  # the work takes time; the cursor must not jump to "now"
    with store.transaction() as session:
        assert cursors.load(session, crm.system).value is None  # not before commit
    saved = poll.commit(store, window, crm.clock(), OVERLAP)
    assert saved.value == window.watermark < crm.clock()
    store.close()


def test_overlap_repeats_nothing_and_misses_nothing(tmp_path: object) -> None:
    store, crm = Store.open(f"sqlite:///{tmp_path}/p.db"), _crm()
    ids = _seed(crm, 4)
    crm.clock.advance(1)  # the seeds' second is over before the listing starts
    poll.commit(store, poll.fetch(store, crm, OVERLAP), crm.clock(), OVERLAP)
    again = poll.fetch(store, crm, OVERLAP)
    assert again.deals == ()  # same rows, same times: the boundary drops them
    crm.user_edit(ids[1], title="изменена")  # same second as the cursor, within the overlap
    changed = poll.fetch(store, crm, OVERLAP)
    assert [d.id for d in changed.deals] == [ids[1]]
    store.close()


def test_a_change_during_paging_is_seen_by_the_next_window(tmp_path: object) -> None:
    store, crm = Store.open(f"sqlite:///{tmp_path}/p.db"), _crm()
    ids = _seed(crm, 6)
    crm.clock.advance(1)
    crm.between_pages = lambda page: crm.user_edit(ids[0], title="во время") if page == 1 else None
    first = poll.fetch(store, crm, OVERLAP)
    crm.between_pages = None
    assert next(d for d in first.deals if d.id == ids[0]).title == "d0"  # listed before the edit
    poll.commit(store, first, crm.clock(), OVERLAP)
    second = poll.fetch(store, crm, OVERLAP)
    assert [(d.id, d.title) for d in second.deals] == [(ids[0], "во время")]
    store.close()


def test_a_second_edit_in_the_listed_second_is_not_lost(tmp_path: object) -> None:
    # The CRMs keep modification times in whole seconds: an edit listed at 09:00:00 and
    # another edit of the same deal later in that second carry the same time.
    store = Store.open(f"sqlite:///{tmp_path}/p.db")
    crm = MemoryCrm("bitrix24:agency", [AGENCY_PIPELINE], clock=ManualClock(T0), step=0)
    (deal,) = _seed(crm, 1)
    first = poll.fetch(store, crm, OVERLAP)
    assert [d.title for d in first.deals] == ["d0"]
    poll.commit(store, first, crm.clock(), OVERLAP)
    crm.user_edit(deal, title="вторая правка")  # same second, after the listing
    second = poll.fetch(store, crm, OVERLAP)
    assert [(d.id, d.title) for d in second.deals] == [(deal, "вторая правка")]
    poll.commit(store, second, crm.clock(), OVERLAP)
    crm.clock.advance(1)  # once the second is over the row settles: listed no more
    third = poll.fetch(store, crm, OVERLAP)
    poll.commit(store, third, crm.clock(), OVERLAP)
    assert poll.fetch(store, crm, OVERLAP).deals == ()
    store.close()
