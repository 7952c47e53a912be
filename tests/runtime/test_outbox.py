"""Hints and their drain job are one transaction on PostgreSQL: no commit without its job,
no job without its commit, and a job already waiting is enough."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from bridge.model import Hint, HintKind
from bridge.store import inbox
from bridge.store.db import Store
from sync.runtime.distributed import prepare
from sync.runtime.outbox import enqueue_with_hints, stop_enqueueing
from sync.runtime.queue import QueueRunner
from sync.runtime.runner import EmbeddedRunner
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


class Crash(Exception):
    """The process dies after the hints were written, before the transaction commits."""


@pytest.fixture
def wired(pg_url: str) -> Iterator[tuple[Store, QueueRunner]]:
    with fresh_database("resolve_outbox_") as url:
        store = Store.open(url)
        prepare(url)
        runner = QueueRunner(url, {}, EmbeddedRunner(1))
        enqueue_with_hints(runner, store.engine)
        try:
            yield store, runner
        finally:
            stop_enqueueing(store.engine)
            runner.shutdown()
            store.close()


def _hint(deal: str) -> Hint:
    return Hint("bitrix24:agency", deal, HintKind.UPDATED, NOW, "webhook")


def _jobs(store: Store) -> list[tuple[str, str, dt.datetime]]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT args->>'name', status::text, scheduled_at FROM procrastinate_jobs "
                "ORDER BY id"
            )
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _hints(store: Store) -> int:
    with store.transaction() as session:
        return sum(inbox.pending_count(session).values())


def test_hints_commit_with_their_drain_job_on_the_drain_tick_when_they_fall_due(
    wired: tuple[Store, QueueRunner],
) -> None:
    store, _ = wired
    with store.transaction() as session:
        inbox.add(session, [_hint("1"), _hint("2")], dt.timedelta(seconds=2.5))
    assert _hints(store) == 2
    ((name, status, at),) = _jobs(store)
    assert (name, status) == ("agency:drain", "todo")
    assert at == NOW + dt.timedelta(seconds=4)  # due at +2.5 s: the 2-second tick after it


def test_a_crash_before_commit_leaves_neither_hints_nor_job(
    wired: tuple[Store, QueueRunner],
) -> None:
    store, _ = wired

    def crash(session: Session) -> None:
        raise Crash

    # Registered after the outbox's listener: the job is already deferred in the
    # transaction when the process "dies", so it must roll back with the hints.
    event.listen(Session, "before_commit", crash)
    try:
        with pytest.raises(Crash), store.transaction() as session:
            inbox.add(session, [_hint("1")], dt.timedelta(0))
    finally:
        event.remove(Session, "before_commit", crash)
    assert _hints(store) == 0
    assert _jobs(store) == []
    with store.transaction() as session:  # the same work again, this time committed
        inbox.add(session, [_hint("1")], dt.timedelta(0))
    assert _hints(store) == 1
    assert [j[:2] for j in _jobs(store)] == [("agency:drain", "todo")]


def test_a_drain_job_already_waiting_is_enough_and_the_hints_still_commit(
    wired: tuple[Store, QueueRunner],
) -> None:
    store, _ = wired
    for deal in ("1", "2", "3"):
        with store.transaction() as session:
            inbox.add(session, [_hint(deal)], dt.timedelta(0))
    assert _hints(store) == 3
    assert [j[:2] for j in _jobs(store)] == [("agency:drain", "todo")]


def test_a_transaction_without_hints_queues_nothing(wired: tuple[Store, QueueRunner]) -> None:
    store, _ = wired
    with store.transaction() as session:
        session.execute(text("SELECT 1"))
    assert _jobs(store) == []
