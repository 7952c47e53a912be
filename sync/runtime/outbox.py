"""Enqueue in the transaction that records the work (PostgreSQL scale-out).

A webhook, a retry, a reconcile, a console action or the agency job records hints in
the store's inbox; the next step — the job of the lane those hints are for (the
agency's, or a partner's) — is a job on the shared queue. Queued after the commit,
a crash in between would leave committed hints with no job (until the periodic hint
tick found them). Here the jobs are queued on the *same* connection, inside the same
transaction, just before it commits: the hints and their jobs are committed together
or not at all. Each job is scheduled on the hint tick at or after its hints fall due,
under its lane's queueing lock: a drain job already waiting on that lane is enough.

:func:`enqueue_with_hints` registers a store's engine and how hints map to lanes;
every session on it that added hints (:data:`bridge.store.inbox.DUE_KEY`) queues
their lanes' drain jobs before commit.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from bridge.store.inbox import DUE_KEY, POLLS_KEY, Target
from sync.runtime.distributed import (
    AGENCY_LANE,
    DRAIN_EVERY,
    PARTNER_POLL,
    drain_job,
    partner_lane,
)
from sync.runtime.queue import QueueRunner

Lanes = Callable[[Iterable[Target]], set[str]]  # (system, address) pairs → their lanes


def addressed_or_agency(targets: Iterable[Target]) -> set[str]:
    """Lanes without knowing the partners' systems: an addressed hint's partner, else
    the agency (the hint tick queues a partner's own hints' job)."""
    return {AGENCY_LANE if address is None else partner_lane(address) for _, address in targets}


_runners: weakref.WeakKeyDictionary[Engine, tuple[QueueRunner, Lanes]] = weakref.WeakKeyDictionary()
_installed = threading.Lock()


def enqueue_with_hints(
    runner: QueueRunner, *engines: Engine, lanes: Lanes = addressed_or_agency
) -> None:
    """Sessions on ``engines`` that record hints queue their lanes' drain jobs in their
    transaction; ``lanes`` says which lanes handle which hints."""
    with _installed:
        for engine in engines:
            if engine.dialect.name == "postgresql":
                _runners[engine] = (runner, lanes)
        if not event.contains(Session, "before_commit", _before_commit):
            event.listen(Session, "before_commit", _before_commit)
            event.listen(Session, "after_rollback", _forget)


def stop_enqueueing(*engines: Engine) -> None:
    with _installed:
        for engine in engines:
            _runners.pop(engine, None)


def _before_commit(session: Session) -> None:
    due: Mapping[Target, dt.datetime] = session.info.pop(DUE_KEY, None) or {}
    polls: set[str] = session.info.pop(POLLS_KEY, None) or set()
    if not due and not polls:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    wired = _runners.get(engine)
    if wired is None:
        return
    runner, lanes = wired
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection), "scale-out stores use the psycopg driver"
    earliest: dict[str, dt.datetime] = {}
    for target, at in due.items():
        for lane in lanes([target]):
            earliest[lane] = min(at, earliest.get(lane, at))
    polling = {partner_lane(code) for code in polls}
    for lane in sorted(polling):  # a poll takes the lane's due hints too: no drain as well
        runner.defer_on(driver, PARTNER_POLL, lane)
    for lane, at in sorted(earliest.items()):
        if lane not in polling:
            runner.defer_on(driver, drain_job(lane), lane, at=on_tick(at))


def on_tick(due: dt.datetime, every: dt.timedelta = DRAIN_EVERY) -> dt.datetime:
    """The first periodic drain tick at or after ``due``: the job is the one that tick
    would queue (same queueing lock), so hints drain exactly as often as before — the
    job only no longer depends on the tick being offered."""
    step = every.total_seconds()
    return dt.datetime.fromtimestamp(math.ceil(due.timestamp() / step) * step, dt.UTC)


def _forget(session: Session) -> None:
    session.info.pop(DUE_KEY, None)
    session.info.pop(POLLS_KEY, None)
