"""Operator paths around health: /readyz and ``bridge status`` say what is true now.

Each scenario runs the bridge over the three sandboxes and breaks something as an
operator or a partner would — a token revoked before the bridge starts, one
wrong in ``.env``, a partner failing pass after pass, a mapping naming a stage
that does not exist, ``mapping.yaml`` deleted — then checks what readiness and
the status table say, that deals routed meanwhile wait and go out, with no edit,
once the cause is gone. (The store file deleted under ``bridge run`` is
tests/daemon/test_store_lost.py: it needs a real process to exit.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.connect import open_crm
from bridge.mapping.watch import MappingWatcher
from bridge.model import LinkStatus
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store import inbox, links
from bridge.store.db import Store
from sync.cli.views import mapping_views, status_table
from sync.engine import BREAKER_AFTER, Engine
from sync.runtime.crm_pool import CrmPool
from sync.runtime.daemon import Daemon, DaemonOptions
from sync.runtime.readiness import readiness
from tests.daemon.helpers import wait_for
from tests.reliability.sandboxes import Clock, Workload

ALFA = "amocrm:alfa"
FAST = DaemonOptions(
    poll_interval=dt.timedelta(hours=1),
    drain_every=dt.timedelta(milliseconds=100),
    debounce=dt.timedelta(milliseconds=100),
)


@dataclass
class Bridge:
    """The engine with the daemon's own parts: a CRM pool, a mapping watcher, a store."""

    world: SandboxWorld
    store: Store
    pool: CrmPool
    watcher: MappingWatcher
    engine: Engine
    clock: Clock

    def passes(self, count: int = 2) -> None:
        for _ in range(count):
            self.clock.ahead += dt.timedelta(minutes=1)  # re-queued hints come due
            self.engine.sync()

    def reresolve(self) -> None:
        """What the daemon does on its re-resolve (scheduled, or the probe of a failing one)."""
        self.watcher.reresolve()
        compiled = self.watcher.compiled
        assert compiled is not None
        crms = self.pool.current()
        self.engine.agency = crms["agency"]
        self.engine.partners = {c: crm for c, crm in crms.items() if c in compiled.partners}
        self.engine.update_mapping(compiled)

    def checks(self) -> dict[str, str]:
        return dict(readiness(self.store, self.watcher, self.clock()).checks)

    def status(self, code: str) -> str:
        """The partner's state cell of ``bridge status``, as plain text."""
        return _status_cell(self.store, self.world.mapping_path, code, self.clock())


def _status_cell(store: Store, mapping_path: Path, code: str, now: dt.datetime) -> str:
    views, _ = mapping_views(mapping_path)
    table = status_table(store, now, views)
    codes = [str(c) for c in table.columns[0].cells]
    cell = str(list(table.columns[-1].cells)[codes.index(code)])
    console = Console(width=400, record=True)
    console.print(cell)
    return console.export_text().strip()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path) as started:
        yield started


def _bridge(world: SandboxWorld) -> Bridge:
    pool = CrmPool(open_crm)
    watcher = MappingWatcher(world.mapping_path, pool.for_spec)
    assert watcher.poll(), watcher.rejected
    compiled = watcher.compiled
    assert compiled is not None
    store = Store.open(f"sqlite:///{world.directory / 'bridge.db'}")
    crms = pool.current()
    clock = Clock()
    partners = {c: crm for c, crm in crms.items() if c in compiled.partners}
    engine = Engine(store, compiled, crms["agency"], partners, clock=clock)
    return Bridge(world, store, pool, watcher, engine, clock)


def _mirrored(store: Store, code: str, agency_id: str) -> bool:
    with store.transaction() as session:
        rows = [r for r in links.by_agency_ids(session, [agency_id]) if r.partner_code == code]
    return bool(rows) and rows[0].status == LinkStatus.ACTIVE and bool(rows[0].partner_deal_id)


def _waiting(store: Store) -> int:
    with store.transaction() as session:
        return sum(inbox.pending_count(session).values())


@pytest.fixture
def opened() -> Iterator[list[Bridge]]:
    """Bridges a test opened, closed at the end."""
    made: list[Bridge] = []
    yield made
    for bridge in made:
        bridge.engine.close()
        bridge.store.close()
        bridge.pool.close()


def _workload(world: SandboxWorld, mapping: CompiledMapping, seed: int) -> Workload:
    """Routes deals; it takes its first stage from the first partner, so one that resolved."""
    ordered = sorted(mapping.partners.items(), key=lambda item: item[1].unavailable is not None)
    return Workload(world, dataclasses.replace(mapping, partners=dict(ordered)), seed)


def _revoke_alfa(world: SandboxWorld) -> str:
    token = world.env["ALFA_AMO_TOKEN"]
    world.alfa.oauth.long_lived.discard(token)
    return token


# --- scenarios -------------------------------------------------------------------------------
def test_a_partner_down_at_start_is_failing_its_deals_wait_and_go_out_once_it_is_back(
    world: SandboxWorld, opened: list[Bridge]
) -> None:
    token = _revoke_alfa(world)  # the partner revoked the token before the bridge started
    bridge = _bridge(world)
    opened.append(bridge)
    assert bridge.checks()[ALFA].startswith("failing: cannot read the CRM"), bridge.checks()
    work = _workload(world, bridge.engine.mapping, seed=21)
    waiting = [work.new_deal("alfa") for _ in range(3)]
    beta = work.new_deal("beta")
    bridge.passes(3)
    checks = bridge.checks()
    assert checks[ALFA].startswith("failing: "), checks
    assert checks["bitrix24:beta"] == "ok" and checks["mapping"].startswith("degraded: 1 ")
    assert bridge.status("alfa").startswith("failing: cannot read the CRM"), bridge.status("alfa")
    assert bridge.status("beta") == "ok"
    assert _mirrored(bridge.store, "beta", beta)  # the other partner is not held up
    assert not any(_mirrored(bridge.store, "alfa", d) for d in waiting)
    assert _waiting(bridge.store) >= len(waiting), "deals routed to alfa must wait in the inbox"
    # The partner admin restores the token; the next re-resolve finds alfa again.
    world.alfa.oauth.long_lived.add(token)
    bridge.reresolve()
    bridge.passes(2)
    assert all(_mirrored(bridge.store, "alfa", d) for d in waiting), "not mirrored, no edit"
    checks = bridge.checks()
    assert checks[ALFA] == "ok" and checks["mapping"] == "ok", checks
    assert bridge.status("alfa") == "ok"


def test_the_circuit_breaker_opens_after_repeated_failures_and_closes_on_recovery(
    world: SandboxWorld, opened: list[Bridge]
) -> None:
    bridge = _bridge(world)
    opened.append(bridge)
    work = Workload(world, bridge.engine.mapping, seed=22)
    work.new_deal("alfa")
    bridge.passes(1)
    assert bridge.checks()[ALFA] == "ok"
    token = _revoke_alfa(world)  # revoked while the bridge runs: every pass fails
    late = work.new_deal("alfa")
    for n in range(1, BREAKER_AFTER):
        bridge.engine.sync()
        assert bridge.checks()[ALFA].startswith("failing: "), (n, bridge.checks()[ALFA])
    bridge.engine.sync()
    state = bridge.checks()[ALFA]
    assert state.startswith("paused by the bridge until ") and " UTC: " in state, state
    assert bridge.status("alfa") == f"{state} (x{BREAKER_AFTER})"
    assert not bridge.engine.reachable("alfa"), "a paused partner is not called"
    world.alfa.oauth.long_lived.add(token)
    bridge.clock.ahead += dt.timedelta(minutes=11)  # past the longest pause: time to probe
    bridge.passes(2)
    assert bridge.checks()[ALFA] == "ok" and bridge.status("alfa") == "ok"
    assert _mirrored(bridge.store, "alfa", late), "the catch-up mirrors what waited"


def test_a_token_wrong_in_env_at_start_is_failing_and_after_the_fix_and_a_restart_deals_go_out(
    world: SandboxWorld,
) -> None:
    env = world.directory / ".env"
    good = env.read_text("utf-8")
    env.write_text(good.replace(world.env["ALFA_AMO_TOKEN"], "mistyped-token"), "utf-8")
    daemon = Daemon(world.settings(), options=FAST).start()
    try:
        assert daemon.server is not None and daemon.runner is not None
        assert daemon.runner.wait_idle(60)
        assert daemon.readiness().checks[ALFA].startswith("failing: cannot read the CRM")
        assert daemon.engine is not None and daemon.store is not None
        work = _workload(world, daemon.engine.mapping, seed=23)
        deal = work.new_deal("alfa")
        assert daemon.jobs is not None
        store = daemon.store
        daemon.jobs.want_poll()  # the poll finds the new deal (no webhooks are wired here)
        assert wait_for(lambda: _waiting(store) or None, timeout=30), "nothing waits"
        assert daemon.runner.wait_idle(60)
        assert not _mirrored(store, "alfa", deal)
        state = _status_cell(store, world.mapping_path, "alfa", dt.datetime.now(dt.UTC))
        assert state.startswith("failing: cannot read the CRM"), state
    finally:
        daemon.stop()
    env.write_text(good, "utf-8")  # the operator fixes the token and restarts
    daemon = Daemon(world.settings(), options=FAST).start()
    try:
        restarted = daemon.store
        assert restarted is not None
        assert wait_for(lambda: _mirrored(restarted, "alfa", deal) or None, timeout=60), (
            "the deal routed while the token was wrong was not mirrored after the fix"
        )
        # The link is recorded inside the partner's lane; its health turns ok when the
        # pass wraps up, a moment later.
        assert wait_for(lambda: daemon.readiness().checks[ALFA] == "ok" or None, timeout=30), (
            daemon.readiness().checks[ALFA]
        )
    finally:
        daemon.stop()


def test_a_mapping_naming_a_missing_stage_is_activated_degraded(world: SandboxWorld) -> None:
    daemon = Daemon(world.settings(), options=FAST).start()
    try:
        assert daemon.readiness().checks["mapping"] == "ok"
        path = world.mapping_path
        text = path.read_text("utf-8")
        assert "Договор" in text
        path.write_text(text.replace("Договор", "Договор (нет такого)", 1), "utf-8")

        def degraded_now() -> str | None:
            check = daemon.readiness().checks["mapping"]
            return check if check.startswith("degraded") else None

        degraded = wait_for(degraded_now, timeout=30)
        assert degraded and "Договор (нет такого)" in degraded, degraded
        assert daemon.readiness().ready, "a degraded mapping is active: the bridge stays ready"
    finally:
        daemon.stop()


def test_a_deleted_mapping_is_logged_once_and_readiness_names_the_file(
    world: SandboxWorld, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(world.settings(), options=FAST).start()
    try:
        watcher = daemon.watcher
        assert watcher is not None
        polls = 0
        real_poll = watcher.poll

        def counted() -> bool:
            nonlocal polls
            polls += 1
            return real_poll()

        watcher.poll = counted  # type: ignore[method-assign]
        with caplog.at_level(logging.INFO):
            world.mapping_path.unlink()
            assert wait_for(lambda: polls >= 30 or None, timeout=60), "the drain stopped"
        check = daemon.readiness().checks["mapping"]
    finally:
        daemon.stop()
    logged = [r for r in caplog.records if r.getMessage() == "mapping.unreadable"]
    assert len(logged) == 1, f"{len(logged)} log lines for {polls} polls"
    assert check == f"file missing: {world.mapping_path}; last good active"
    print(f"mapping.yaml deleted: {polls} polls → {len(logged)} log line")


def test_the_daemon_probes_a_partner_that_did_not_resolve_and_takes_it_back_by_itself(
    world: SandboxWorld,
) -> None:
    token = _revoke_alfa(world)
    clock = Clock()
    daemon = Daemon(world.settings(), options=FAST, clock=clock).start()
    try:
        assert daemon.runner is not None and daemon.runner.wait_idle(60)
        assert daemon.engine is not None and daemon.jobs is not None
        store = daemon.store
        assert store is not None
        work = _workload(world, daemon.engine.mapping, seed=24)
        deal = work.new_deal("alfa")
        daemon.jobs.want_poll()
        assert wait_for(lambda: _waiting(store) or None, timeout=30)
        assert daemon.readiness().checks[ALFA].startswith("failing: ")
        world.alfa.oauth.long_lived.add(token)  # back, but nobody touches the bridge
        # The drain schedules the first probe 30 s after it sees the partner missing;
        # the clock jumps past it only once it is scheduled.
        jobs = daemon.jobs
        assert wait_for(lambda: jobs.next_probe, timeout=30), "no probe was scheduled"
        clock.ahead += dt.timedelta(seconds=31)
        assert wait_for(lambda: daemon.readiness().checks[ALFA] == "ok" or None, timeout=30), (
            daemon.readiness().checks[ALFA]
        )
        assert wait_for(lambda: _mirrored(store, "alfa", deal) or None, timeout=60), (
            "the waiting deal was not mirrored after the probe found the partner"
        )
    finally:
        daemon.stop()
