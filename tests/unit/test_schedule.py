"""APScheduler wiring: every job present, coalescing, jitter, submits to the runner."""

from __future__ import annotations

import datetime as dt
import threading

from sync.runtime.runner import EmbeddedRunner
from sync.runtime.schedule import Plan, PollTarget, build_scheduler, job_ids


def _noop() -> None:
    return None


def test_every_job_is_scheduled_with_safe_options() -> None:
    plan = Plan(
        polls=(
            PollTarget("agency", dt.timedelta(seconds=30), _noop),
            PollTarget("alfa", dt.timedelta(seconds=60), _noop),
        ),
        drain_inbox=_noop,
        reconcile=_noop,
        resolve_mapping=_noop,
        digest=_noop,
    )
    runner = EmbeddedRunner(workers=1)
    scheduler = build_scheduler(plan, runner)
    try:
        assert list(job_ids(scheduler)) == sorted(
            ["poll:agency", "poll:alfa", "drain-inbox", "resolve-mapping", "reconcile", "daily"]
        )
        for job in scheduler.get_jobs():
            assert job.coalesce and job.max_instances == 1
        poll = scheduler.get_job("poll:alfa")
        assert poll.trigger.jitter == 12
        assert "hour='7'" in str(scheduler.get_job("daily").trigger)
    finally:
        runner.shutdown()


def test_scheduled_jobs_reach_the_runner() -> None:
    drained = threading.Event()
    plan = Plan(
        polls=(),
        drain_inbox=drained.set,
        reconcile=_noop,
        resolve_mapping=_noop,
        digest=_noop,
        drain_every=dt.timedelta(milliseconds=50),
    )
    runner = EmbeddedRunner(workers=1)
    scheduler = build_scheduler(plan, runner)
    scheduler.start()
    try:
        assert drained.wait(5)
    finally:
        scheduler.shutdown(wait=True)
        runner.shutdown()
