"""The shared job queue on PostgreSQL (procrastinate): tasks, periodic jobs, workers.

Every bridge process on one PostgreSQL database shares one queue. A job names
*what* to run (a handler every process registers under the same name, e.g.
``pass:poll``) and *which lane* it belongs to. The lane is procrastinate's
``lock`` — jobs of one lane run one at a time, whichever worker takes them — and
``lane:name`` is the ``queueing_lock``, so at most one job of a kind waits per
lane: requests coalesce instead of piling up, as in the embedded runner.

Periodic jobs are procrastinate periodic tasks: every worker's deferrer offers
them, the database keeps one per tick, so they run once however many workers are
up. A job whose worker died (no heartbeat) is put back by ``retry-stalled``,
itself a periodic job, so survivors take over within about a minute; when a job
of the same kind already waits on its lane, the dead worker's copy is closed as
failed instead (the waiting one does the work).

procrastinate's schema is applied at start if missing, under an advisory lock,
so any number of processes may start at once on a fresh database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from bridge.logs import log_event

log = logging.getLogger(__name__)

JOB_TASK = "bridge.job"
PERIODIC_TASK = "bridge.periodic"
STALLED_TASK = "bridge.retry_stalled"
SCHEMA_LOCK = 0x7062_7175_6575  # advisory-lock key around the queue's schema ("pbqueu")
HEARTBEAT_SECONDS = 5.0  # workers refresh their heartbeat this often
STALLED_AFTER_SECONDS = 20.0  # a worker silent this long is dead; its jobs go back
STALLED_CRON = "* * * * * */15"  # look for stalled jobs every 15 s
QUEUE = "bridge"
RESTART_FIRST = 1.0  # seconds before a worker that lost the database starts again
RESTART_MAX = 30.0  # the pause doubles while it keeps failing, up to this

Handler = Callable[[], None]
LaneHandler = Callable[[str], None]  # told the lane it runs on (e.g. which partner)


class UnknownJob(RuntimeError):
    """A job names a handler this process did not register (versions out of step)."""


@dataclass(frozen=True, slots=True)
class Periodic:
    """A handler run on a clock, once per tick across all workers."""

    name: str
    lane: str
    cron: str  # five fields, or six with seconds last (procrastinate's croniter)


def conninfo(db_url: str) -> str:
    """A libpq URI for a SQLAlchemy PostgreSQL URL (drops the ``+psycopg`` driver part)."""
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def apply_schema(db_url: str) -> bool:
    """Create procrastinate's tables if missing (True if it did). Safe to race."""
    with psycopg.connect(conninfo(db_url)) as connection, connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        row = connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if row is not None and row[0]:
            return False
        connection.execute(SchemaManager.get_schema())
    log_event(log, "queue.schema_applied")
    return True


def live_workers(db_url: str) -> int:
    """Queue workers with a recent heartbeat on this database (0 when there is no queue)."""
    with psycopg.connect(conninfo(db_url)) as connection:
        row = connection.execute(
            "SELECT to_regclass('procrastinate_workers') IS NOT NULL"
        ).fetchone()
        if row is None or not row[0]:
            return 0
        row = connection.execute(
            "SELECT count(*) FROM procrastinate_workers "
            "WHERE last_heartbeat > now() - make_interval(secs => %s)",
            (STALLED_AFTER_SECONDS,),
        ).fetchone()
    return int(row[0]) if row else 0


def every(seconds: float) -> str:
    """A cron for "every ``seconds``" (whole seconds below a minute, whole minutes above)."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"* * * * * */{whole}"
    minutes = max(1, whole // 60)
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{max(1, minutes // 60)} * * *"


def build_app(db_url: str, periodics: Sequence[Periodic]) -> procrastinate.App:
    """The worker's app: the job task, one periodic entry per ``periodics``, stalled retry."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(db_url)))

    @app.task(name=JOB_TASK, queue=QUEUE, pass_context=True)
    def run_job(context: procrastinate.JobContext, name: str, lane: str) -> None:
        _dispatch(context, name, lane)

    @app.task(name=PERIODIC_TASK, queue=QUEUE, pass_context=True)
    def run_periodic(
        context: procrastinate.JobContext, timestamp: int, name: str = "", lane: str = ""
    ) -> None:
        _dispatch(context, name, lane)

    for periodic in periodics:
        app.periodic(
            cron=periodic.cron,
            periodic_id=periodic.name,
            lock=periodic.lane,
            queueing_lock=f"{periodic.lane}:{periodic.name}",
            task_kwargs={"name": periodic.name, "lane": periodic.lane},
        )(run_periodic)

    @app.periodic(cron=STALLED_CRON, periodic_id="retry-stalled")
    @app.task(name=STALLED_TASK, queue=QUEUE, queueing_lock="retry-stalled", pass_context=True)
    async def retry_stalled(context: procrastinate.JobContext, timestamp: int) -> None:
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
            try:
                await manager.retry_job(job)
            except UniqueViolation:
                # the same kind of job already waits on this lane (its queueing lock): that one
                # does the work, so the dead worker's copy is closed instead of retried, which
                # would fail on every tick and leave the lane locked by a "doing" job for ever
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
                log_event(log, "queue.stalled_superseded", logging.WARNING, job=job.id)
                continue
            log_event(log, "queue.stalled_retried", logging.WARNING, job=job.id, task=job.task_name)

    return app


def _dispatch(context: procrastinate.JobContext, name: str, lane: str) -> None:
    handlers: Mapping[str, Handler] = context.additional_context["handlers"]
    per_lane: Mapping[str, LaneHandler] = context.additional_context.get("lane_handlers", {})
    handler = handlers.get(name)
    if handler is not None:
        handler()
    elif (lane_handler := per_lane.get(name)) is not None:
        lane_handler(lane)
    else:
        raise UnknownJob(f"no handler {name!r} in this process (lane {lane})")


class QueueRunner:
    """The :class:`~sync.runtime.runner.Runner` of a scale-out process.

    Jobs registered in ``shared`` (callable → handler name) go to the shared queue
    on their lane; anything else is process-local (e.g. re-reading this process's
    mapping file) and runs on ``local``.
    """

    def __init__(self, db_url: str, shared: Mapping[Handler, str], local: Any) -> None:
        self._app = procrastinate.App(
            connector=procrastinate.SyncPsycopgConnector(
                conninfo=conninfo(db_url), min_size=1, max_size=2
            )
        ).open()
        self._shared = dict(shared)
        self._local = local
        self._closed = False

    def share(self, job: Handler, name: str) -> None:
        """From now on ``job`` submitted here goes to the shared queue as handler ``name``."""
        self._shared[job] = name

    def submit(self, lane: str, job: Handler) -> bool:
        name = self._shared.get(job)
        if name is None:
            return bool(self._local.submit(lane, job))
        return self.defer(name, lane) if not self._closed else False

    def defer(self, name: str, lane: str) -> bool:
        """Queue handler ``name`` on ``lane``; False when one already waits there (it is
        then made due now, if it was scheduled later)."""
        deferrer = self._app.configure_task(
            JOB_TASK, lock=lane, queueing_lock=f"{lane}:{name}", queue=QUEUE
        )
        try:
            deferrer.defer(name=name, lane=lane)
        except AlreadyEnqueued:
            with self._pool().connection() as connection:
                _sooner(connection, f"{lane}:{name}", None)
            return False
        return True

    def defer_on(
        self,
        connection: psycopg.Connection[Any],
        name: str,
        lane: str,
        at: dt.datetime | None = None,
    ) -> bool:
        """Queue handler ``name`` on ``lane`` in the transaction open on ``connection`` (the
        caller's): it is queued if and only if that transaction commits. False when one
        already waits there (a savepoint keeps that clash from aborting the transaction)."""
        if self._closed:
            return False
        deferrer = self._app.configure_task(
            JOB_TASK,
            lock=lane,
            queueing_lock=f"{lane}:{name}",
            queue=QUEUE,
            schedule_at=at,
            connection=connection,
        )
        try:
            with connection.transaction():  # a savepoint inside the caller's transaction
                deferrer.defer(name=name, lane=lane)
        except AlreadyEnqueued:
            _sooner(connection, f"{lane}:{name}", at)
            return False
        return True

    def _pool(self) -> Any:
        return self._app.connector.get_sync_connector().pool  # type: ignore[attr-defined]

    def active(self, name: str) -> bool:
        """A job of handler ``name`` waits or runs somewhere (any worker)."""
        with self._app.connector.get_sync_connector().pool.connection() as connection:  # type: ignore[attr-defined]
            row = connection.execute(
                "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE queue_name = %s "
                "AND status IN ('todo', 'doing') AND args->>'name' = %s)",
                (QUEUE, name),
            ).fetchone()
        return bool(row and row[0])

    def pending(self) -> int:
        """Bridge jobs waiting or running, across all workers."""
        with self._app.connector.get_sync_connector().pool.connection() as connection:  # type: ignore[attr-defined]
            row = connection.execute(
                "SELECT count(*) FROM procrastinate_jobs "
                "WHERE queue_name = %s AND task_name IN (%s, %s) AND status IN ('todo', 'doing')",
                (QUEUE, JOB_TASK, PERIODIC_TASK),
            ).fetchone()
        return int(row[0]) if row else 0

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no bridge job waits or runs (tests, shutdown reports)."""
        deadline = None if timeout is None else _now() + timeout
        idle = threading.Event()
        while self.pending():
            if deadline is not None and _now() >= deadline:
                return False
            idle.wait(0.1)  # polling the shared queue: there is nothing local to wait on
        return bool(self._local.wait_idle(None if deadline is None else deadline - _now()))

    def shutdown(self, *, wait: bool = True) -> None:
        self._closed = True
        self._local.shutdown(wait=wait)
        self._app.close()


def _sooner(
    connection: psycopg.Connection[Any], queueing_lock: str, at: dt.datetime | None
) -> None:
    """The job waiting under ``queueing_lock`` runs no later than ``at`` (None: now): a
    job scheduled for later (e.g. a retry's delay) must not hold back newer work."""
    connection.execute(
        "UPDATE procrastinate_jobs SET scheduled_at = COALESCE(%s, now()) "
        "WHERE queueing_lock = %s AND status = 'todo' "
        "AND scheduled_at > COALESCE(%s, now())",
        (at, queueing_lock, at),
    )


def _now() -> float:
    import time

    return time.monotonic()


class QueueWorker:
    """A procrastinate worker on its own thread and event loop, stopped gracefully."""

    def __init__(
        self,
        app: procrastinate.App,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int = 4,
        name: str = "bridge",
        keep_jobs: bool = False,
        lane_handlers: Mapping[str, LaneHandler] | None = None,
    ) -> None:
        """``lane_handlers``: handlers told the lane of their job (one handler serves
        every partner's lane)."""
        self._app = app
        self._delete_jobs = "never" if keep_jobs else "successful"
        self._handlers = dict(handlers)
        self._lane_handlers = dict(lane_handlers or {})
        self._concurrency = concurrency
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue-{name}", daemon=True)
        self.error: BaseException | None = None
        self.restarts = 0

    def start(self) -> QueueWorker:
        self._thread.start()
        self._started.wait(30)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._main())
            self._started.set()
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self.error = exc
            log_event(log, "queue.worker_failed", logging.ERROR, error=repr(exc))
        finally:
            self._started.set()
            loop.close()

    async def _main(self) -> None:
        """Run the worker; start it again when it stops on its own. procrastinate stops a
        worker whose listener or heartbeat lost the database (a PostgreSQL restart, a cut
        connection); without this the process would stay up taking no job for ever."""
        pause = RESTART_FIRST
        while True:
            began = asyncio.get_running_loop().time()
            try:
                await self._work()
            except Exception as exc:
                log_event(log, "queue.worker_lost", logging.WARNING, error=repr(exc))
            if self._stopping.is_set():
                return
            if asyncio.get_running_loop().time() - began > RESTART_MAX:
                pause = RESTART_FIRST  # it ran a while: a new outage starts the back-off again
            self.restarts += 1
            log_event(log, "queue.worker_restarting", logging.WARNING, after=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESTART_MAX)

    async def _work(self) -> None:
        async with self._app.open_async():
            await self._app.run_worker_async(
                queues=[QUEUE],
                name=self._name,
                concurrency=self._concurrency,
                install_signal_handlers=False,
                additional_context={
                    "handlers": self._handlers,
                    "lane_handlers": self._lane_handlers,
                },
                delete_jobs=self._delete_jobs,
                update_heartbeat_interval=HEARTBEAT_SECONDS,
                stalled_worker_timeout=STALLED_AFTER_SECONDS,
                shutdown_graceful_timeout=120,
            )

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 150) -> None:
        """Finish running jobs (up to the graceful timeout), then stop taking new ones."""
        self._stopping.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        self._thread.join(timeout)
