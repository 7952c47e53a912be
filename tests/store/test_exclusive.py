"""``Store.exclusive``: a lock every bridge process on one PostgreSQL database waits for
(the engine's handover of clients to partners runs under it, so two workers' partner
jobs never both take over one client); on SQLite it is the process's own business."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from bridge.store.db import Store
from sync.engine import HANDOVER_LOCK


def _free_elsewhere(store: Store, key: int) -> bool:
    """Whether another connection could take ``key`` now (released again at once)."""
    with store.engine.connect() as connection:
        took = bool(
            connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        )
        if took:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        connection.commit()
    return took


@pytest.mark.postgres
def test_one_process_holding_the_handover_lock_keeps_the_others_out(pg_url: str) -> None:
    first, second = Store.open(pg_url), Store.open(pg_url)  # two processes' stores
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with first.exclusive(HANDOVER_LOCK):
            inside.set()
            leave.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(30)
        assert not _free_elsewhere(second, HANDOVER_LOCK)
        entered = threading.Event()

        def enter() -> None:
            with second.exclusive(HANDOVER_LOCK):
                entered.set()

        waiter = threading.Thread(target=enter)
        waiter.start()
        assert not entered.wait(0.5), "the second process got in while the first held it"
        leave.set()
        holder.join(30)
        waiter.join(30)
        assert entered.is_set()
        assert _free_elsewhere(second, HANDOVER_LOCK)  # released on the way out
    finally:
        leave.set()
        first.close()
        second.close()


def test_on_sqlite_the_lock_is_the_process_own(tmp_path: object) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/x.db")
    with store.exclusive(HANDOVER_LOCK), store.exclusive(HANDOVER_LOCK):
        pass  # nothing database-wide to take: one daemon holds the file
    store.close()
