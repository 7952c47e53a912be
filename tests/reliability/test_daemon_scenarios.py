"""The whole daemon (in this process) under webhook faults, a long outage, and a rival.

Webhooks are mangled by the sandboxes' outboxes (dropped, duplicated, reordered,
delayed); polling every few seconds is the safety net. "Quiet" is reached when the
invariant checker passes; the scenario fails if that does not happen in time.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bridge.sandbox.emulator.outbox import OutboxPolicy
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store.db import Store
from sync.runtime.daemon import Daemon, DaemonOptions
from sync.runtime.single import AlreadyRunning
from tests.daemon.helpers import wait_for
from tests.reliability.invariants import InvariantReport, check_invariants, secrets_of
from tests.reliability.sandboxes import Checked, Workload, checker_view

OPTIONS = DaemonOptions(
    poll_interval=dt.timedelta(seconds=2),
    drain_every=dt.timedelta(milliseconds=100),
    debounce=dt.timedelta(milliseconds=200),
)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path) as started:
        yield started


@pytest.fixture
def logs() -> Iterator[Lines]:
    handler = Lines()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def _start(world: SandboxWorld) -> Daemon:
    daemon = Daemon(world.settings(), options=OPTIONS).start()
    assert daemon.server is not None and daemon.runner is not None
    world.connect_webhooks(daemon.server.url)
    assert daemon.runner.wait_idle(60)
    return daemon


def _quiet(
    world: SandboxWorld, view: Checked, scenario: str, faults: str, work: Workload, logs: Lines
) -> InvariantReport:
    """Wait until every invariant holds (the last attempt is the one reported)."""
    store = Store.open(world.settings().db_url, upgrade=False)

    def attempt(record: bool) -> InvariantReport:
        return check_invariants(
            view,
            store,
            view.mapping,
            scenario=scenario,
            faults=faults,
            changes=work.changes,
            secrets=secrets_of(world.env),
            texts=logs.lines,
            record=record,
        )

    try:
        wait_for(lambda: True if attempt(False).ok else None, timeout=40, every=0.5)
        return attempt(True)
    finally:
        store.close()


def test_mangled_webhooks_and_polling_lose_nothing(world: SandboxWorld, logs: Lines) -> None:
    mangle = OutboxPolicy(drop=0.3, duplicate=0.3, reorder=0.3, delay=0.05, seed=5)
    daemon = _start(world)
    try:
        with checker_view(world) as view:
            work = Workload(world, view.mapping, seed=3)
            world.agency.outbox.policy = OutboxPolicy(drop=1.0)  # these three are surely lost
            for _ in range(3):
                work.new_deal()
            world.agency.outbox.policy = mangle
            world.beta.outbox.policy = mangle
            for _ in range(12):
                work.random_step(view.partners, view.agency)
            report = _quiet(
                world,
                view,
                "webhooks dropped/duplicated/reordered/delayed, poll every 2 s",
                "3 events dropped, then drop/duplicate/reorder 30 % each, delay 50 ms",
                work,
                logs,
            )
    finally:
        daemon.stop()
    assert world.agency.outbox.dropped >= 1
    report.assert_ok()


def test_long_outage_then_restart_restores_every_invariant(
    world: SandboxWorld, logs: Lines
) -> None:
    daemon = _start(world)
    with checker_view(world) as view:
        work = Workload(world, view.mapping, seed=5)
        for n in range(6):
            work.new_deal(("alfa", "beta")[n % 2])
        _quiet(world, view, "outage: before", "", work, logs)
        daemon.stop()  # down: both sides keep changing, every webhook is lost
        work.editable_ids = None
        for _ in range(15):
            work.random_step(view.partners, view.agency)
        daemon = _start(world)
        try:
            report = _quiet(
                world,
                view,
                "long outage: daemon down, both sides changed, webhooks lost",
                "daemon stopped; 15 changes; webhooks to a dead port",
                work,
                logs,
            )
        finally:
            daemon.stop()
    report.assert_ok()


def test_a_second_daemon_on_the_same_sqlite_file_refuses(world: SandboxWorld) -> None:
    first = _start(world)
    try:
        settings = world.settings()
        with pytest.raises(AlreadyRunning):
            Daemon(settings, options=OPTIONS).start()
        assert first.server is not None
        assert requests.get(f"{first.server.url}/healthz", timeout=5).status_code == 200
        assert first.readiness().ready
    finally:
        first.stop()


HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_locked_sqlite_file_makes_hooks_answer_503_and_writes_nothing(
    world: SandboxWorld,
) -> None:
    daemon = _start(world)
    path = str(world.directory / "bridge.db")
    try:
        with subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ,
        ) as holder:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            assert daemon.server is not None
            body = {
                "event": "ONCRMDEALUPDATE",
                "data[FIELDS][ID]": "987654",
                "ts": str(int(time.time())),
                "auth[application_token]": world.env["AGENCY_B24_APP_TOKEN"],
            }
            started = time.monotonic()
            reply = requests.post(f"{daemon.server.url}/hooks/bitrix24", data=body, timeout=60)
            assert reply.status_code == 503
            assert time.monotonic() - started < 2.0, "inside amoCRM's 2 s delivery window"
            assert holder.stdin is not None
            holder.stdin.close()
        assert daemon.store is not None
        with daemon.store.transaction() as session:
            from sqlmodel import select

            from bridge.store.tables import HintRow

            assert not list(session.exec(select(HintRow).where(HintRow.deal_id == "987654")))
    finally:
        daemon.stop()
