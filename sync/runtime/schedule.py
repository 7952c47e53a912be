"""When work happens: APScheduler 3.x triggers, the runner decides where it runs.

Every job only *submits* to the runner, so a slow CRM never holds a scheduler
thread. ``coalesce`` + ``max_instances=1`` stop missed runs from piling up after
a pause; jitter spreads a hundred partners' polls over the interval instead of
firing them in the same second.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sync.runtime.runner import Runner


@dataclass(frozen=True, slots=True)
class PollTarget:
    lane: str  # the runner lane: partner code, or "agency"
    interval: dt.timedelta
    poll: Callable[[], None]


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the daemon wants run on a clock."""

    polls: tuple[PollTarget, ...]
    drain_inbox: Callable[[], None]
    reconcile: Callable[[], None]
    resolve_mapping: Callable[[], None]
    digest: Callable[[], None]  # daily: it decides itself which partners' digest day it is
    drain_every: dt.timedelta = dt.timedelta(seconds=1)
    resolve_every: dt.timedelta = dt.timedelta(minutes=10)
    reconcile_at: dt.time = dt.time(3, 0)
    digest_at: dt.time = dt.time(7, 0)


def _job_options(name: str) -> dict[str, object]:
    return {
        "id": name,
        "name": name,
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": 300,
    }


def build_scheduler(plan: Plan, runner: Runner) -> BackgroundScheduler:
    """A stopped scheduler with every job added; the caller starts and stops it."""
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    for target in plan.polls:
        seconds = target.interval.total_seconds()
        scheduler.add_job(
            runner.submit,
            IntervalTrigger(seconds=seconds, jitter=max(1, int(seconds * 0.2)), timezone=dt.UTC),
            args=(target.lane, target.poll),
            **_job_options(f"poll:{target.lane}"),
        )
    _add_interval(scheduler, runner, "drain-inbox", plan.drain_every, plan.drain_inbox)
    _add_interval(scheduler, runner, "resolve-mapping", plan.resolve_every, plan.resolve_mapping)
    scheduler.add_job(
        runner.submit,
        CronTrigger(hour=plan.reconcile_at.hour, minute=plan.reconcile_at.minute, timezone=dt.UTC),
        args=("reconcile", plan.reconcile),
        **_job_options("reconcile"),
    )
    scheduler.add_job(
        runner.submit,
        CronTrigger(hour=plan.digest_at.hour, minute=plan.digest_at.minute, timezone=dt.UTC),
        args=("daily", plan.digest),
        **_job_options("daily"),
    )
    return scheduler


def _add_interval(
    scheduler: BackgroundScheduler,
    runner: Runner,
    name: str,
    every: dt.timedelta,
    job: Callable[[], None],
) -> None:
    scheduler.add_job(
        runner.submit,
        IntervalTrigger(seconds=every.total_seconds(), timezone=dt.UTC),
        args=(name, job),
        **_job_options(name),
    )


def job_ids(scheduler: BackgroundScheduler) -> Iterable[str]:
    return sorted(job.id for job in scheduler.get_jobs())
