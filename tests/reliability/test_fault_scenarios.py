"""Sandbox faults, one scenario each: the engine over the real adapters and HTTP sandboxes.

Every scenario routes deals, lets one pass mirror them, injects its fault while
both sides keep changing, runs passes until the bridge is quiet again (with the
fault cleared, as an operator or the CRM would), and checks all six invariants.
The engine's clock runs ahead of the wall clock on demand, so hints re-queued for
a failed partner (30 s) come due without waiting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.sandbox.emulator.faults import Fault, FaultKind
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store.db import Store
from sync.engine import Engine
from sync.sources.reconcile import reconcile
from tests.reliability.invariants import check_invariants, secrets_of
from tests.reliability.sandboxes import Checked, Clock, Workload, checker_view


@dataclass
class Bench:
    world: SandboxWorld
    view: Checked
    store: Store
    engine: Engine
    clock: Clock
    work: Workload
    errors: list[str]

    def pass_(self) -> None:
        report = self.engine.sync()
        self.errors.extend(report.errors.values())

    def quiesce(self, passes: int = 4) -> None:
        """Passes until quiet, with the nightly reconcile (deletions) among them."""
        for n in range(passes):
            self.clock.ahead += dt.timedelta(minutes=2)  # re-queued hints come due
            self.pass_()
            if n == 1:
                engine = self.engine
                reconcile(
                    engine.store,
                    engine.mapping,
                    engine.agency,
                    {c: engine.partners[c] for c in engine.reachable()},
                    engine.clock(),
                    then=engine.sync,
                )


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    with sandbox_world(tmp_path) as world, checker_view(world) as view:
        store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
        clock = Clock()
        engine = Engine(store, view.mapping, view.agency, view.partners, clock=clock)
        work = Workload(world, view.mapping, seed=11)
        yield Bench(world, view, store, engine, clock, work, [])
        engine.close()
        store.close()


def _base(b: Bench, deals: int = 6) -> None:
    for n in range(deals):
        b.work.new_deal(("alfa", "beta")[n % 2])
    b.pass_()


def _churn(b: Bench, steps: int = 6) -> None:
    for _ in range(steps):
        b.work.random_step(b.view.partners, b.view.agency)


# --- scenarios: inject → (churn, passes) → clear -------------------------------------------
def server_errors(b: Bench) -> str:
    _churn(b)  # the test's own reads must not meet the faults
    b.world.beta.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=6, status=500))
    b.world.alfa.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=4, status=502))
    b.pass_()
    b.pass_()
    return "5xx bursts: beta 500×6, alfa 502×4"


def throttled(b: Bench) -> str:
    _churn(b)  # the test's own reads must not meet the faults
    b.world.alfa.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=1, status=429))
    b.world.beta.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=2, status=503))
    b.world.agency.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=1, status=503))
    b.pass_()
    b.pass_()
    return "429×1 (alfa), 503×2 (beta), 503×1 (agency)"


def timeouts(b: Bench) -> str:
    _churn(b)  # the test's own reads must not meet the faults
    b.world.alfa.server.faults.arm(Fault(FaultKind.TIMEOUT, times=2, delay=0.2))
    b.world.beta.server.faults.arm(Fault(FaultKind.TIMEOUT, times=2, delay=0.2))
    b.pass_()
    return "connection held 0.2 s then closed, ×2 per partner"


def dropped_after_commit(b: Bench) -> str:
    _churn(b, 3)  # the test's own reads must not meet the faults
    for n in range(4):
        b.work.new_deal(("alfa", "beta")[n % 2])
    complex_add = b.world.alfa.app.api_method_of("post", "/api/v4/leads/complex")
    b.world.alfa.server.faults.arm(Fault(FaultKind.DROP_AFTER_COMMIT, method=complex_add))
    b.world.beta.server.faults.arm(
        Fault(FaultKind.DROP_AFTER_COMMIT, times=3, method="batch", skip=1)
    )
    b.pass_()
    b.pass_()
    return (
        "create answered by a closed connection after it committed (alfa complex add, beta batch×3)"
    )


def partial_batch(b: Bench) -> str:
    """One deal of a batch is gone on the partner side: its update fails, the rest land."""
    linked = sorted(b.work.agency_ids)
    victim = next(i for i in linked if b.view.partners["beta"].find_by_stamp([i]))
    gone = b.view.partners["beta"].find_by_stamp([victim])[victim]
    b.world.beta.delete_deal(gone.id)
    for deal_id in linked:
        b.world.agency.update_deal(deal_id, {"OPPORTUNITY": "555000"})
        b.work.changes += 1
    b.pass_()
    return f"partner deleted deal {gone.id}; a batch of updates with it fails for that item only"


def stage_deleted(b: Bench) -> str:
    pipeline = b.world.alfa.pipeline_id("Партнёрские лиды")
    status = b.world.alfa.status_id(pipeline, "Квалификация")
    _churn(b, 3)
    b.world.alfa.delete_status(pipeline, status)
    b.pass_()
    _churn(b, 3)
    return "alfa deleted its mapped stage «Квалификация» mid-run"


def blocked(b: Bench) -> str:
    _churn(b)  # the test's own reads must not meet the faults
    b.world.alfa.limits.blocked = True  # what the sandbox does after too many 429s
    b.pass_()
    b.pass_()
    b.world.alfa.unblock()
    return "amoCRM 403 block (nginx page) for two passes, then unblocked"


def revoked(b: Bench) -> str:
    """alfa's token stops working: alfa waits, beta goes on; restored, alfa catches up."""
    _churn(b)
    token = b.world.alfa.long_lived_token
    b.world.alfa.oauth.long_lived.discard(token)
    fresh = b.work.new_deal("beta")
    b.pass_()
    b.pass_()
    assert b.view.partners["beta"].find_by_stamp([fresh]), "beta stalled behind alfa's 401"
    assert any("alfa" in e or "401" in e or "uthori" in e for e in b.errors), b.errors
    b.world.alfa.oauth.long_lived.add(token)
    return "alfa's token revoked (401) for two passes, then restored"


SCENARIOS: dict[str, Callable[[Bench], str]] = {
    "revoked token": revoked,
    "5xx bursts": server_errors,
    "429/503 bursts": throttled,
    "timeouts": timeouts,
    "response dropped after commit": dropped_after_commit,
    "partial batch failure": partial_batch,
    "partner stage deleted mid-run": stage_deleted,
    "amoCRM 403 block": blocked,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fault_scenario_keeps_every_invariant(bench: Bench, name: str) -> None:
    _base(bench)
    faults = SCENARIOS[name](bench)
    bench.quiesce()
    report = check_invariants(
        bench.view,
        bench.store,
        bench.view.mapping,
        scenario=f"fault: {name}",
        faults=faults,
        changes=bench.work.changes,
        secrets=secrets_of(bench.world.env),
        texts=bench.errors,
    )
    report.assert_ok()
