"""``bridge run`` + ``bridge worker`` on one fresh PostgreSQL database, against the sandboxes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store import links
from bridge.store.db import Store
from sync.cli.main import app
from sync.runtime.daemon import Daemon, DaemonOptions
from sync.runtime.queue import QueueRunner, conninfo
from sync.runtime.shared_budget import account_key
from tests.daemon.helpers import partner_deal_id, route_new_deal, wait_for
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres

OPTIONS = DaemonOptions(poll_interval=dt.timedelta(hours=1), watch_every=dt.timedelta(seconds=1))


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[tuple[SandboxWorld, str]]:
    with fresh_database("pb_config_daemon_") as url, sandbox_world(tmp_path) as started:
        yield started, url


def test_run_and_a_worker_share_the_work_and_mirror_each_deal_once(
    world: tuple[SandboxWorld, str],
) -> None:
    sandboxes, url = world
    settings = dataclasses.replace(sandboxes.settings(), db_url=url)
    # both start at once on the fresh database: migrations and the queue schema race safely
    run = Daemon(settings, options=OPTIONS)
    worker = Daemon(settings, options=dataclasses.replace(OPTIONS, serve_http=False))
    daemons = [run, worker]
    try:
        second = threading.Thread(target=worker.start)
        second.start()
        run.start()
        second.join(90)
        assert run.server is not None and worker.server is None
        assert isinstance(run.runner, QueueRunner)
        sandboxes.connect_webhooks(run.server.url)
        assert run.runner.wait_idle(90), "the first (catch-up) pass did not finish"
        ids = [route_new_deal(sandboxes, run, code, n) for n, code in enumerate(["alfa", "beta"])]
        for code, deal_id in zip(["alfa", "beta"], ids, strict=True):
            assert wait_for(functools.partial(partner_deal_id, run, code, deal_id), timeout=60)
        assert run.runner.wait_idle(60)
        for code in ("alfa", "beta"):
            assert len(run.crms()[code].find_by_stamp(ids)) == 1  # mirrored once, to its partner
        # a manual `bridge sync` beside the workers hands its pass to them instead of racing
        manual = CliRunner().invoke(app, ["sync", "--db-url", url])
        assert manual.exit_code == 0, manual.output
        assert "bridge worker(s) share this store: a pass over every partner is" in manual.output
        status = CliRunner().invoke(app, ["status", "--db-url", url])
        assert status.exit_code == 0 and "queue: 2 live worker(s)" in status.output
        assert run.readiness().checks["queue"] == "ok"
        assert run.runner.wait_idle(60)
    finally:
        for daemon in daemons:
            daemon.stop()
    store = Store.open(url, upgrade=False)
    try:
        with store.transaction() as session:
            counted = links.counts_by_status(session)
    finally:
        store.close()
    assert sum(sum(c.values()) for c in counted.values()) >= 2
    # every CRM account was paced through its shared budget row
    with psycopg.connect(conninfo(url)) as connection:
        accounts = {r[0] for r in connection.execute("SELECT account FROM bridge_rate_budget")}
    expected = {sandboxes.agency.webhook_url, sandboxes.alfa.base_url, sandboxes.beta.webhook_url}
    assert accounts == {account_key(u) for u in expected}
