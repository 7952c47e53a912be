"""The embedded runner: one job per lane at a time, coalescing, isolation, clean shutdown."""

from __future__ import annotations

import logging
import threading

import pytest

from sync.runtime.health import HealthTracker
from sync.runtime.runner import EmbeddedRunner


def test_a_lane_runs_one_job_at_a_time_and_coalesces_waiters() -> None:
    runner = EmbeddedRunner(workers=4)
    release = threading.Event()
    started = threading.Event()
    concurrent = 0
    peak = 0
    runs: list[str] = []
    lock = threading.Lock()

    def job(name: str) -> None:
        nonlocal concurrent, peak
        with lock:
            concurrent += 1
            peak = max(peak, concurrent)
        started.set()
        release.wait(5)
        with lock:
            concurrent -= 1
            runs.append(name)

    assert runner.submit("alfa", lambda: job("first"))
    assert started.wait(5)
    assert runner.submit("alfa", lambda: job("second"))
    assert not runner.submit("alfa", lambda: job("third")), "a second waiter is coalesced"
    release.set()
    assert runner.wait_idle(5)
    runner.shutdown()
    assert peak == 1
    assert runs == ["first", "third"], "the newest waiting request stands for the others"


def test_a_stuck_lane_does_not_block_others() -> None:
    runner = EmbeddedRunner(workers=2)
    stuck = threading.Event()
    other_ran = threading.Event()

    def slow() -> None:
        stuck.wait(5)

    runner.submit("slow", slow)
    runner.submit("fast", other_ran.set)
    assert other_ran.wait(5)
    stuck.set()
    assert runner.wait_idle(5)
    runner.shutdown()


def test_a_failing_job_is_reported_and_the_lane_keeps_working() -> None:
    errors: list[tuple[str, str]] = []
    runner = EmbeddedRunner(workers=1, on_error=lambda lane, exc: errors.append((lane, str(exc))))
    ran = threading.Event()

    def boom() -> None:
        raise RuntimeError("partner CRM down")

    runner.submit("alfa", boom)
    assert runner.wait_idle(5)
    runner.submit("alfa", ran.set)
    assert ran.wait(5)
    runner.shutdown()
    assert errors == [("alfa", "partner CRM down")]


def test_shutdown_finishes_in_flight_work_and_refuses_new() -> None:
    runner = EmbeddedRunner(workers=1)
    gate = threading.Event()
    finished = threading.Event()

    def job() -> None:
        gate.wait(5)
        finished.set()

    runner.submit("alfa", job)
    gate.set()
    runner.shutdown(wait=True)
    assert finished.is_set()
    assert not runner.submit("alfa", job)


def test_health_logs_transitions_only(caplog: pytest.LogCaptureFixture) -> None:
    tracker = HealthTracker()
    with caplog.at_level(logging.INFO, logger="sync.runtime.health"):
        for _ in range(5):
            tracker.failed("amocrm:alfa", ConnectionError("refused"))
        tracker.succeeded("amocrm:alfa")
        tracker.succeeded("amocrm:alfa")
    events = [r.getMessage() for r in caplog.records]
    assert events == ["crm.down", "crm.recovered"]
    assert tracker.failing() == {}
