"""The shared queue: one job per lane at a time, no pile-up, periodic jobs once per tick."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from procrastinate.exceptions import ConnectorException
from procrastinate.manager import JobManager

from sync.runtime.queue import (
    Periodic,
    QueueRunner,
    QueueWorker,
    apply_schema,
    build_app,
    conninfo,
    every,
)
from sync.runtime.runner import EmbeddedRunner
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def queue_db(pg_url: str) -> Iterator[str]:
    with fresh_database("pb_config_queue_") as url:
        assert apply_schema(url) is True
        assert apply_schema(url) is False  # idempotent: a second process finds it there
        yield url


class Gate:
    """Handlers that report when they start and hold until released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: dict[str, threading.Event] = {}
        self.release = threading.Event()
        self.runs: list[str] = []

    def handler(self, name: str) -> Callable[[], None]:
        self.started[name] = threading.Event()

        def run() -> None:
            with self.lock:
                self.runs.append(name)
            self.started[name].set()
            assert self.release.wait(60)

        return run


def test_a_lane_runs_one_job_at_a_time_and_one_waits(queue_db: str) -> None:
    gate = Gate()
    handlers = {name: gate.handler(name) for name in ("pass", "other")}
    workers = [
        QueueWorker(build_app(queue_db, []), handlers, concurrency=2, name=f"w{n}").start()
        for n in range(3)
    ]
    runner = QueueRunner(queue_db, {}, EmbeddedRunner(1))
    try:
        assert runner.defer("pass", "sync-pass")
        assert gate.started["pass"].wait(30)
        # the lane is busy: one more may wait, a third is the same request and coalesces
        assert runner.defer("pass", "sync-pass") is True
        assert runner.defer("pass", "sync-pass") is False
        # another lane is not held up by the busy one, on any worker
        assert runner.defer("other", "daily")
        assert gate.started["other"].wait(30)
        assert gate.runs.count("pass") == 1  # the waiting one has not started beside it
        gate.release.set()
        assert runner.wait_idle(60)
        assert gate.runs.count("pass") == 2 and gate.runs.count("other") == 1
    finally:
        gate.release.set()
        for worker in workers:
            worker.stop()
        runner.shutdown()


def test_periodic_jobs_run_once_per_tick_however_many_workers(queue_db: str) -> None:
    ticks = threading.Semaphore(0)
    tick = Periodic("tick", "clock", every(1))
    workers = [
        QueueWorker(
            build_app(queue_db, [tick]),
            {"tick": ticks.release},
            name=f"w{n}",
            keep_jobs=True,
        ).start()
        for n in range(3)
    ]
    try:
        for _ in range(4):
            assert ticks.acquire(timeout=30)
    finally:
        for worker in workers:
            worker.stop()
    with psycopg.connect(conninfo(queue_db)) as connection:
        rows = connection.execute(
            "SELECT args->>'timestamp', count(*) FROM procrastinate_jobs "
            "WHERE args->>'name' = 'tick' GROUP BY 1"
        ).fetchall()
    assert len(rows) >= 4
    assert [r for r in rows if r[1] != 1] == []  # no tick deferred twice


def test_cron_for_intervals() -> None:
    assert every(2) == "* * * * * */2"
    assert every(300) == "*/5 * * * *"
    assert every(7200) == "0 */2 * * *"


def test_a_worker_that_lost_the_database_starts_again_and_takes_jobs(
    queue_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL restart breaks the worker's LISTEN connection; procrastinate then stops
    the worker ("side task failed"). The bridge starts it again, so jobs queued after the
    outage still run — before, the process stayed up and took no job (seen restarting
    PostgreSQL under a scale-out run). The lost connection is simulated: the listener's
    first run fails as it does then."""
    listen = JobManager.listen_for_jobs
    failed: list[int] = []

    async def flaky(self: JobManager, *args: Any, **kwargs: Any) -> None:
        if not failed:
            failed.append(1)
            raise ConnectorException("the database system is shutting down")
        await listen(self, *args, **kwargs)

    monkeypatch.setattr(JobManager, "listen_for_jobs", flaky)
    ran = threading.Event()
    worker = QueueWorker(build_app(queue_db, []), {"job": ran.set}, name="cut").start()
    runner = QueueRunner(queue_db, {}, EmbeddedRunner(1))
    try:
        assert runner.defer("job", "lane")
        assert ran.wait(60), "no job ran after the worker lost its listener"
        assert failed and worker.restarts >= 1 and worker.alive()
    finally:
        worker.stop()
        runner.shutdown()
