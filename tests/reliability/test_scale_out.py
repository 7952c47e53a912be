"""Three ``bridge run`` processes on one fresh PostgreSQL database, one killed with -9.

The three start at the same moment (migrations and the queue schema race), every
sandbox delivers its webhooks to all three, a random workload runs, and the
process that is running a sync pass at that moment is killed with ``SIGKILL``.
The survivors must take its job over (the queue's stalled-job retry) within 60 s;
then the workload ends, the survivors catch up, and the invariant checker reads
both CRMs and the store: I1–I6 hold, no duplicate, ledger exactly once.

The takeover time is printed in the reliability summary (``TAKEOVER``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
import sqlalchemy as sa

from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store.db import Store
from sync.runtime.distributed import PARTNER_PREFIX, POLL_TICK, TICK_LANE
from sync.runtime.queue import QueueRunner, conninfo
from sync.runtime.runner import EmbeddedRunner
from tests.daemon.helpers import wait_for
from tests.daemon.process import BRIDGE, free_port
from tests.pg import fresh_database
from tests.reliability.invariants import check_invariants, secrets_of
from tests.reliability.sandboxes import Workload, checker_view

pytestmark = pytest.mark.postgres

PROCESSES = 3
STEPS_BEFORE_KILL = 12
STEPS_AFTER_KILL = 12
TAKEOVER_LIMIT = 60.0  # seconds, issue 15
TAKEOVER: list[float] = []
JOB_ID = re.compile(r"'job_id': (\d+)")
LATENCY = 0.05  # seconds per sandbox request while a pass is hunted: long enough to see


@dataclass
class Bridge:
    """One ``bridge run`` subprocess and the JSON lines it logged."""

    number: int
    process: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)

    def running_jobs(self) -> set[int]:
        """Queue jobs this process's worker started and has not ended (procrastinate's log)."""
        started: set[int] = set()
        ended: set[int] = set()
        for line in list(self.lines):
            try:
                payload = json.loads(line)
            except ValueError:
                continue
            action = payload.get("action") if isinstance(payload, dict) else None
            found = JOB_ID.search(str(payload.get("worker", ""))) if action else None
            if found is None:
                continue
            if action == "start_job":
                started.add(int(found.group(1)))
            elif str(action).startswith("job_"):
                ended.add(int(found.group(1)))
        return started - ended

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"bridge {self.number} exited:\n" + "".join(self.lines[-30:]))
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False


def _pump(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stderr is not None
    lines.extend(process.stderr)


@contextmanager
def bridges(world: SandboxWorld, db_url: str, count: int) -> Iterator[list[Bridge]]:
    """Start ``count`` ``bridge run`` processes at once; kill what is left at the end."""
    started: list[Bridge] = []
    pumps: list[threading.Thread] = []
    try:
        for number in range(count):
            port = free_port()
            env = {
                **os.environ,
                "BRIDGE_MAPPING": str(world.mapping_path),
                "BRIDGE_DB_URL": db_url,
                "BRIDGE_HTTP_PORT": str(port),
                "BRIDGE_LOG_JSON": "true",
            }
            command = [BRIDGE, "run", "--env-file", str(world.directory / ".env")]
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            bridge = Bridge(number, process, f"http://127.0.0.1:{port}")
            pump = threading.Thread(target=_pump, args=(process, bridge.lines), daemon=True)
            pump.start()
            started.append(bridge)
            pumps.append(pump)
        for bridge in started:
            assert wait_for(functools.partial(_up, bridge), timeout=90, every=0.1), (
                f"bridge {bridge.number} did not come up:\n" + "".join(bridge.lines[-30:])
            )
        yield started
    finally:
        for bridge in started:
            if bridge.process.poll() is None:
                bridge.process.kill()
            bridge.process.wait(30)
        for pump in pumps:
            pump.join(10)
        for bridge in started:
            if bridge.process.stderr is not None:
                bridge.process.stderr.close()


def committed_links(db_url: str) -> set[str]:
    """Agency deal ids whose link is active with its partner deal (edits are safe on these)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT agency_deal_id FROM link "
                    "WHERE status = 'active' AND partner_deal_id IS NOT NULL"
                )
            ).all()
    finally:
        engine.dispose()
    return {str(r[0]) for r in rows}


def job_settled(db_url: str, job_id: int) -> bool:
    """The job finished (deleted on success, or no longer waiting/running)."""
    with psycopg.connect(conninfo(db_url)) as connection:
        row = connection.execute(
            "SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)
        ).fetchone()
    return row is None or row[0] not in ("todo", "doing")


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[tuple[SandboxWorld, str]]:
    with fresh_database("pb_rel_scaleout_") as url, sandbox_world(tmp_path) as started:
        yield started, url


def test_three_processes_one_killed_keep_every_invariant(
    world: tuple[SandboxWorld, str],
) -> None:
    sandboxes, url = world
    with ExitStack() as stack:
        view = stack.enter_context(checker_view(sandboxes))
        procs = stack.enter_context(bridges(sandboxes, url, PROCESSES))
        for bridge in procs:  # every sandbox delivers its webhooks to every process
            sandboxes.connect_webhooks(bridge.url)
        queue = QueueRunner(url, {}, EmbeddedRunner(1))
        stack.callback(queue.shutdown)
        work = Workload(sandboxes, view.mapping, seed=15)

        def steps(count: int) -> None:
            for _ in range(count):
                work.editable_ids = committed_links(url)
                work.random_step(view.partners, view.agency)

        steps(STEPS_BEFORE_KILL)
        # the victim: a process in the middle of a partner's sync (its job's lane is the partner's)
        sandboxes.set_latency(LATENCY)
        work.new_deal()
        queue.defer(POLL_TICK, TICK_LANE)

        def busy() -> tuple[Bridge, int] | None:
            for bridge in procs:
                for job in bridge.running_jobs():
                    if _is_pass(url, job):
                        return bridge, job
            return None

        found = wait_for(busy, timeout=60, every=0.02)
        assert found, "no process was seen running a sync pass: " + "".join(procs[0].lines[-5:])
        victim, job = found
        victim.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert victim.process.wait(30) in (-signal.SIGKILL, 137)
        survivors = [b for b in procs if b is not victim]
        sandboxes.set_latency(0)

        steps(STEPS_AFTER_KILL)  # the workload goes on while the survivors notice
        assert wait_for(lambda: job_settled(url, job) or None, timeout=120, every=0.1), (
            f"job {job} of the killed process was never taken over: {_queue_dump(url)}"
        )
        takeover = time.monotonic() - killed_at
        TAKEOVER.append(takeover)
        print(f"\nscale-out: job {job} of the killed process finished after {takeover:.1f} s")

        # quiesce: every deal mirrored, then one more polling pass, then an idle queue
        def mirrored() -> bool:
            found: set[str] = set()
            for crm in view.partners.values():
                found |= set(crm.find_by_stamp(work.agency_ids))
            return found >= set(work.agency_ids)

        assert wait_for(lambda: mirrored() or None, timeout=120, every=0.5), "deals left unmirrored"
        assert queue.wait_idle(120)
        queue.defer(POLL_TICK, TICK_LANE)
        assert queue.wait_idle(120)
        for bridge in survivors:
            bridge.process.send_signal(signal.SIGTERM)
        for bridge in survivors:
            assert bridge.process.wait(90) == 0, "".join(bridge.lines[-30:])
        store = Store.open(url, upgrade=False)
        try:
            report = check_invariants(
                view,
                store,
                view.mapping,
                scenario=f"scale-out: {PROCESSES}× bridge run on one fresh PostgreSQL, one kill -9",
                faults=f"kill -9 of bridge {victim.number} mid-pass; takeover {takeover:.1f} s",
                changes=work.changes,
                secrets=secrets_of(sandboxes.env),
                texts=["".join(b.lines) for b in procs],
            )
        finally:
            store.close()
    report.assert_ok()
    assert takeover <= TAKEOVER_LIMIT, f"takeover took {takeover:.1f} s"


def _is_pass(db_url: str, job_id: int) -> bool:
    with psycopg.connect(conninfo(db_url)) as connection:
        row = connection.execute(
            "SELECT lock, status FROM procrastinate_jobs WHERE id = %s", (job_id,)
        ).fetchone()
    return row is not None and str(row[0]).startswith(PARTNER_PREFIX) and row[1] == "doing"


def _queue_dump(db_url: str) -> str:
    """The queue's jobs, events and workers, for a failure message."""
    with psycopg.connect(conninfo(db_url)) as connection:
        jobs = connection.execute(
            "SELECT id, status, lock, task_name, args, worker_id, attempts "
            "FROM procrastinate_jobs WHERE status IN ('todo', 'doing') ORDER BY id"
        ).fetchall()
        workers = connection.execute(
            "SELECT id, now() - last_heartbeat FROM procrastinate_workers"
        ).fetchall()
    return f"jobs {jobs}; workers {workers}"


def _up(bridge: Bridge) -> bool | None:
    return bridge.healthy() or None
