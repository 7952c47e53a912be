"""The daemon in this process against the three sandboxes: webhook path, poll path, storm."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bridge.sandbox.world import SandboxWorld, sandbox_world
from sync.runtime.daemon import Daemon, DaemonOptions
from tests.daemon.helpers import partner_deal_id, route_new_deal, wait_for

FAST = DaemonOptions(
    poll_interval=dt.timedelta(hours=1),  # only webhooks move deals, unless a test says so
    drain_every=dt.timedelta(milliseconds=100),
    debounce=dt.timedelta(milliseconds=200),
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path) as started:
        yield started


def _start(world: SandboxWorld, options: DaemonOptions = FAST) -> Daemon:
    daemon = Daemon(world.settings(), options=options).start()
    assert daemon.server is not None and daemon.runner is not None
    world.connect_webhooks(daemon.server.url)
    assert daemon.runner.wait_idle(60), "the first (catch-up) pass did not finish"
    return daemon


def test_a_routed_deal_reaches_the_partner_through_the_webhook(world: SandboxWorld) -> None:
    daemon = _start(world)
    try:
        started = time.monotonic()
        deal_id = route_new_deal(world, daemon, "alfa", 1)
        mirrored = wait_for(lambda: partner_deal_id(daemon, "alfa", deal_id), timeout=30)
        latency = time.monotonic() - started
    finally:
        daemon.stop()
    assert mirrored is not None, "the deal never reached the partner"
    assert world.agency.outbox.deliveries, "the agency's event was delivered to the daemon"
    print(f"webhook → mirror latency: {latency:.2f} s")


def test_with_webhooks_lost_the_poll_finds_the_deal(world: SandboxWorld) -> None:
    interval = dt.timedelta(seconds=3)
    daemon = _start(world, DaemonOptions(poll_interval=interval, drain_every=FAST.drain_every))
    world.agency.outbox.policy.drop = 1.0
    try:
        deal_id = route_new_deal(world, daemon, "beta", 2)
        # one interval, its 20 % jitter, and the pass itself
        mirrored = wait_for(lambda: partner_deal_id(daemon, "beta", deal_id), timeout=20)
    finally:
        daemon.stop()
    assert world.agency.outbox.dropped >= 1
    assert mirrored is not None, "polling did not find a deal whose webhook was lost"


def test_a_webhook_storm_costs_about_one_fetch_per_deal(world: SandboxWorld) -> None:
    # The product's default quiet period: a deal's hints fold while events keep coming.
    daemon = _start(world, DaemonOptions(poll_interval=FAST.poll_interval))
    assert daemon.server is not None and daemon.runner is not None
    try:
        ids = [route_new_deal(world, daemon, "alfa", 100 + n) for n in range(50)]
        assert wait_for(lambda: partner_deal_id(daemon, "alfa", ids[-1]), timeout=60)
        assert daemon.runner.wait_idle(60)
        world.agency.outbox.wait_idle()
        before = world.agency.server.calls.requests
        url = f"{daemon.server.url}/hooks/bitrix24"
        token = world.env["AGENCY_B24_APP_TOKEN"]
        with requests.Session() as http:
            for n in range(1000):
                body = {
                    "event": "ONCRMDEALUPDATE",
                    "data[FIELDS][ID]": ids[n % 50],
                    "ts": str(int(time.time())),
                    "auth[application_token]": token,
                    "auth[domain]": "agency.bitrix24.ru",
                }
                assert http.post(url, data=body, timeout=10).status_code == 200
        assert wait_for(lambda: daemon.inbox_empty() or None, timeout=30)
        assert daemon.runner.wait_idle(30)
        fetches = world.agency.server.calls.requests - before
        folded = daemon.metrics.registry.get_sample_value(
            "bridge_hints_deduplicated_total", {"system": daemon.crms()["agency"].system}
        )
    finally:
        daemon.stop()
    print(f"storm: 1000 events on 50 deals → {fetches} agency requests, {folded} folded")
    # At most ~10 passes, each reading its deals in one bulk read and — the example mapping
    # mirrors notes — their notes in one more.
    assert fetches <= 20, "a storm must be folded and read in bulk, not per event"
    # The first events of a storm are a trickle until the rate shows (they go out at
    # once, and their deals enter the inbox again); the rest fold into waiting hints.
    assert folded is not None and folded >= 850, "most of the storm folds into waiting hints"


def test_the_daily_job_books_membership_once_and_runs_the_digest(world: SandboxWorld) -> None:
    from bridge.ledger import book

    daemon = _start(world)
    assert daemon.store is not None and daemon.jobs is not None
    try:
        daemon.jobs.daily()
        daemon.jobs.daily()  # a second run the same year books nothing more
        with daemon.store.transaction() as session:
            fees = [
                e for e in book.read(session, partner="alfa") if e.cause.startswith("membership")
            ]
    finally:
        daemon.stop()
    assert len(fees) == 1
    assert str(fees[0].amount) == "60000.00"


def test_the_nightly_reconcile_finds_a_partner_deal_deleted_behind_our_back(
    world: SandboxWorld,
) -> None:
    from bridge.model import LinkStatus
    from bridge.store import links

    daemon = _start(world)
    assert daemon.runner is not None and daemon.store is not None and daemon.jobs is not None
    try:
        deal_id = route_new_deal(world, daemon, "alfa", 301)
        lead = wait_for(lambda: partner_deal_id(daemon, "alfa", deal_id), timeout=30)
        assert lead is not None and daemon.runner.wait_idle(30)
        world.alfa.outbox.policy.drop = 1.0  # the partner's delete webhook is lost
        world.alfa.delete_lead(int(lead))
        daemon.jobs.reconcile()
        assert daemon.runner.wait_idle(60)
        with daemon.store.transaction() as session:
            (row,) = links.by_agency_ids(session, [deal_id])
    finally:
        daemon.stop()
    assert row.status == LinkStatus.ORPHANED.value, row.park_reason
