"""A worker killed mid-job (kill -9): its job goes back to the queue and another finishes it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.runtime.queue import QueueRunner, QueueWorker, apply_schema, build_app
from sync.runtime.runner import EmbeddedRunner
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres

# A worker whose only job hangs after saying it started.
DOOMED = """
import sys, threading
from pathlib import Path
from sync.runtime.queue import QueueWorker, build_app

def hang():
    Path(sys.argv[2]).touch()
    threading.Event().wait()

QueueWorker(build_app(sys.argv[1], []), {"pass": hang}, name="doomed").start()
threading.Event().wait()
"""


@pytest.fixture
def queue_db(pg_url: str) -> Iterator[str]:
    with fresh_database("pb_config_stalled_") as url:
        apply_schema(url)
        yield url


def test_a_killed_workers_job_is_taken_over(queue_db: str, tmp_path: Path) -> None:
    started = tmp_path / "started"
    doomed = subprocess.Popen([sys.executable, "-c", DOOMED, queue_db, str(started)])
    finished = threading.Event()
    survivor: QueueWorker | None = None
    runner = QueueRunner(queue_db, {}, EmbeddedRunner(1))
    try:
        assert runner.defer("pass", "sync-pass")
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline, "the doomed worker never took the job"
            finished.wait(0.05)
        survivor = QueueWorker(build_app(queue_db, []), {"pass": finished.set}, name="survivor")
        survivor.start()
        doomed.kill()  # kill -9: no goodbye, the job stays "doing" with a silent heartbeat
        doomed.wait(10)
        killed_at = time.monotonic()
        assert finished.wait(90), "no survivor finished the dead worker's job"
        print(f"taken over {time.monotonic() - killed_at:.1f} s after kill -9")
        assert runner.wait_idle(30)
    finally:
        if doomed.poll() is None:
            doomed.kill()
        if survivor is not None:
            survivor.stop()
        runner.shutdown()


def test_a_killed_workers_job_gives_way_to_the_same_job_waiting_behind_it(
    queue_db: str, tmp_path: Path
) -> None:
    """The lane's next job of the same kind waits (queueing lock) while the dead one is
    "doing": retrying the dead one would clash with it, so it is closed and the waiting
    one runs — the lane must not stay locked."""
    started = tmp_path / "started"
    doomed = subprocess.Popen([sys.executable, "-c", DOOMED, queue_db, str(started)])
    finished = threading.Event()
    survivor: QueueWorker | None = None
    runner = QueueRunner(queue_db, {}, EmbeddedRunner(1))
    try:
        assert runner.defer("pass", "sync-pass")
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline, "the doomed worker never took the job"
            finished.wait(0.05)
        assert runner.defer("pass", "sync-pass")  # the same kind waits behind it
        survivor = QueueWorker(build_app(queue_db, []), {"pass": finished.set}, name="survivor")
        survivor.start()
        doomed.kill()
        doomed.wait(10)
        assert finished.wait(90), "the lane stayed locked by the dead worker's job"
        assert runner.wait_idle(30)
    finally:
        if doomed.poll() is None:
            doomed.kill()
        if survivor is not None:
            survivor.stop()
        runner.shutdown()
