"""Enqueue in the transaction that records the work (PostgreSQL scale-out).

A webhook, a retry, a reconcile or a console action records hints in the store's
inbox; the next step — a pass over the due hints — is a job on the shared queue.
Queued after the commit, a crash in between would leave committed hints with no
job (until the periodic drain found them). Here the job is queued on the *same*
connection, inside the same transaction, just before it commits: the hints and
their ``pass:drain`` job are
committed together or not at all. The job is scheduled on the periodic drain's
next tick, under the same queueing lock, so it *is* that tick's job: a drain job
already waiting is enough, and hints drain exactly as often as before.

:func:`enqueue_with_hints` registers a store's engine; every session on it that
added hints (:data:`bridge.store.inbox.DUE_KEY`) queues the drain before commit.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import weakref

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from bridge.store.inbox import DUE_KEY
from sync.runtime.distributed import DRAIN_EVERY, PASS_LANE
from sync.runtime.queue import QueueRunner

DRAIN_JOB = "pass:drain"

_runners: weakref.WeakKeyDictionary[Engine, QueueRunner] = weakref.WeakKeyDictionary()
_installed = threading.Lock()


def enqueue_with_hints(runner: QueueRunner, *engines: Engine) -> None:
    """Sessions on ``engines`` that record hints queue the drain job in their transaction."""
    with _installed:
        for engine in engines:
            if engine.dialect.name == "postgresql":
                _runners[engine] = runner
        if not event.contains(Session, "before_commit", _before_commit):
            event.listen(Session, "before_commit", _before_commit)
            event.listen(Session, "after_rollback", _forget)


def stop_enqueueing(*engines: Engine) -> None:
    with _installed:
        for engine in engines:
            _runners.pop(engine, None)


def _before_commit(session: Session) -> None:
    due: dt.datetime | None = session.info.pop(DUE_KEY, None)
    if due is None:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    runner = _runners.get(engine)
    if runner is None:
        return
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection), "scale-out stores use the psycopg driver"
    runner.defer_on(driver, DRAIN_JOB, PASS_LANE, at=on_tick(due))


def on_tick(due: dt.datetime, every: dt.timedelta = DRAIN_EVERY) -> dt.datetime:
    """The first periodic drain tick at or after ``due``: the job is the one that tick
    would queue (same queueing lock), so hints drain exactly as often as before — the
    job only no longer depends on the tick being offered."""
    step = every.total_seconds()
    return dt.datetime.fromtimestamp(math.ceil(due.timestamp() / step) * step, dt.UTC)


def _forget(session: Session) -> None:
    session.info.pop(DUE_KEY, None)
