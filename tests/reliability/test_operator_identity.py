"""Operator paths around identity: the store is a cache, the CRMs' stamps are the truth.

Each scenario mirrors deals with one store, then goes on with a store that did not
do that work — an empty one (deleted ``bridge.db``), an older copy (restored from a
backup), or two stores used by turns (a command run against another folder's
store) — while both sides keep changing. The invariant checker reads the CRMs:
every partner deal carries a stamp, and no stamp may appear twice.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bridge.model import DealDraft, LinkStatus
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store import links
from bridge.store.db import Store
from sync.engine import Engine
from sync.sources.reconcile import reconcile
from tests.reliability.invariants import check_invariants, secrets_of
from tests.reliability.sandboxes import Checked, Clock, Workload, checker_view


@dataclass
class Site:
    """The sandboxes, the checker's view of them, and whichever stores the bridge used."""

    world: SandboxWorld
    view: Checked
    directory: Path
    clock: Clock = field(default_factory=Clock)
    stores: list[Store] = field(default_factory=list)
    engines: list[Engine] = field(default_factory=list)

    def store(self, name: str) -> Store:
        opened = Store.open(f"sqlite:///{self.directory / name}")
        self.stores.append(opened)
        return opened

    def engine(self, store: Store) -> Engine:
        made = Engine(
            store, self.view.mapping, self.view.agency, self.view.partners, clock=self.clock
        )
        self.engines.append(made)
        return made

    def passes(self, engine: Engine, count: int = 3) -> None:
        for n in range(count):
            self.clock.ahead += dt.timedelta(minutes=2)  # re-queued hints come due
            engine.sync()
            if n == 1:
                partners = {c: engine.partners[c] for c in engine.reachable()}
                reconcile(
                    engine.store,
                    engine.mapping,
                    engine.agency,
                    partners,
                    engine.clock(),
                    then=engine.sync,
                )

    def check(self, store: Store, scenario: str, work: Workload) -> None:
        check_invariants(
            self.view,
            store,
            self.view.mapping,
            scenario=scenario,
            changes=work.changes,
            secrets=secrets_of(self.world.env),
        ).assert_ok()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with sandbox_world(tmp_path) as world, checker_view(world) as view:
        built = Site(world, view, tmp_path)
        yield built
        for engine in built.engines:
            engine.close()
        for store in built.stores:
            store.close()


def _stamped(site: Site) -> dict[str, int]:
    """How many partner deals carry each stamp, over every partner CRM (read from the CRMs)."""
    counts: dict[str, int] = {}
    for crm in site.view.partners.values():
        page_deals = [
            d
            for page in crm.list_changed(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
            for d in page.deals
        ]
        for deal in {d.id: d for d in page_deals}.values():
            if deal.stamp:
                counts[f"{crm.system}:{deal.stamp}"] = (
                    counts.get(f"{crm.system}:{deal.stamp}", 0) + 1
                )
    return counts


def _first_round(site: Site, store: Store, work: Workload, deals: int = 8) -> None:
    for n in range(deals):
        work.new_deal(("alfa", "beta")[n % 2])
    site.passes(site.engine(store))
    for _ in range(6):
        work.random_step(site.view.partners, site.view.agency)
    site.passes(site.engine(store))


def test_an_empty_store_adopts_every_stamped_deal_and_creates_no_second_copy(site: Site) -> None:
    work = Workload(site.world, site.view.mapping, seed=5)
    _first_round(site, site.store("first.db"), work)
    before = _stamped(site)
    assert before and set(before.values()) == {1}
    # The operator deletes bridge.db and starts again, while people keep working.
    fresh = site.store("fresh.db")
    for _ in range(6):
        work.random_step(site.view.partners, site.view.agency)
    new = work.new_deal("alfa")
    site.passes(site.engine(fresh))
    after = _stamped(site)
    assert set(after.values()) == {1}, {k: v for k, v in after.items() if v > 1}
    assert before.keys() <= after.keys() and after[f"amocrm:alfa:{new}"] == 1
    site.check(fresh, "empty store after mirroring", work)


def test_a_restored_older_copy_creates_no_second_copy(site: Site) -> None:
    work = Workload(site.world, site.view.mapping, seed=6)
    store = site.store("live.db")
    _first_round(site, store, work, deals=4)
    shutil.copy(site.directory / "live.db", site.directory / "backup.db")  # last night's backup
    for n in range(6):
        work.new_deal(("alfa", "beta")[n % 2])
    site.passes(site.engine(store))
    for _ in range(6):
        work.random_step(site.view.partners, site.view.agency)
    site.passes(site.engine(store))
    store.close()
    site.stores.remove(store)
    restored = site.store("backup.db")
    for _ in range(4):
        work.random_step(site.view.partners, site.view.agency)
    site.passes(site.engine(restored))
    assert set(_stamped(site).values()) == {1}
    site.check(restored, "store restored from an older backup", work)


def test_two_stores_used_by_turns_never_duplicate(site: Site) -> None:
    """A command run from another folder opens another bridge.db beside the daemon's."""
    work = Workload(site.world, site.view.mapping, seed=7)
    daemon_store, stray_store = site.store("daemon.db"), site.store("stray.db")
    daemon, stray = site.engine(daemon_store), site.engine(stray_store)
    for round_ in range(3):
        for n in range(3):
            work.new_deal(("alfa", "beta")[(n + round_) % 2])
        site.passes(daemon if round_ % 2 == 0 else stray, 2)
        site.passes(stray if round_ % 2 == 0 else daemon, 2)
    assert set(_stamped(site).values()) == {1}
    site.passes(daemon)
    site.check(daemon_store, "two stores by turns", work)


def test_duplicates_made_before_the_lookup_are_held_with_their_ids_not_deleted(
    site: Site,
) -> None:
    work = Workload(site.world, site.view.mapping, seed=8)
    agency_id = work.new_deal("beta")
    site.passes(site.engine(site.store("old.db")), 1)
    beta = site.view.partners["beta"]
    kept = beta.find_by_stamp([agency_id])[agency_id]
    # An earlier version created a second copy after a lost store.
    (copy,) = beta.create_deals(
        [DealDraft("dup", "Копия", kept.pipeline_id, kept.stage_id, stamp=agency_id)]
    )
    assert copy.deal_id is not None
    fresh = site.store("fresh.db")
    engine = site.engine(fresh)
    site.passes(engine, 2)
    with fresh.transaction() as session:
        (row,) = [r for r in links.parked(session) if r.agency_deal_id == agency_id]
    assert row.partner_deal_id == kept.id
    assert copy.deal_id in (row.park_reason or "") and "bridge retry" in (row.park_reason or "")
    found = beta.find_stamped([agency_id])[agency_id]
    assert [d.id for d in found] == [kept.id, copy.deal_id]  # nothing deleted
    # Someone deletes the copy and retries: the link goes on with the oldest deal.
    site.world.beta.delete_deal(copy.deal_id)
    assert engine.retry([row.id or 0]) == 1
    site.passes(engine, 2)
    with fresh.transaction() as session:
        (again,) = [r for r in links.for_partner(session, "beta") if r.agency_deal_id == agency_id]
    assert again.status == LinkStatus.ACTIVE and again.partner_deal_id == kept.id


def _register_leads(site: Site, count: int) -> list[int]:
    """alfa registers leads for the agency in its own amoCRM (mapping.yaml's ``leads:``)."""
    alfa = site.world.alfa
    own = alfa.pipeline_id("Собственные продажи")
    status = alfa.status_id(own, "Принимают решение")
    ids = []
    for n in range(count):
        phone = {"field_code": "PHONE", "values": [{"value": f"+7 913 000-11-{n:02d}"}]}
        contact = alfa.add_contact({"name": f"Лид №{n}", "custom_fields_values": [phone]})
        fields = {"name": f"Лид партнёра №{n}", "price": 10_000 * (n + 1)}
        embedded = {"contacts": [{"id": contact}]}
        ids.append(alfa.add_lead({**fields, "pipeline_id": own, "status_id": status,
                                  "_embedded": embedded}))  # fmt: skip
    return ids


def _agency_lead_stamps(site: Site) -> dict[str, int]:
    since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    deals = {d.id: d for page in site.view.agency.list_changed(since) for d in page.deals}
    counts: dict[str, int] = {}
    for deal in deals.values():
        if deal.stamp and deal.stamp.startswith("lead:"):
            counts[deal.stamp] = counts.get(deal.stamp, 0) + 1
    return counts


def test_partner_registered_leads_reach_the_agency_once_whatever_store_is_used(
    site: Site,
) -> None:
    """Leads registered in a partner CRM, an older backup restored (it predates them), then
    an empty store: each lead has one agency deal and one partner deal, every time."""
    work = Workload(site.world, site.view.mapping, seed=8)
    store = site.store("live.db")
    _first_round(site, store, work, deals=4)
    shutil.copy(site.directory / "live.db", site.directory / "backup.db")
    leads = _register_leads(site, 3)
    site.passes(site.engine(store))
    stamps = {f"lead:alfa:{i}": 1 for i in leads}
    assert _agency_lead_stamps(site) == stamps
    for _ in range(4):
        work.random_step(site.view.partners, site.view.agency)
    site.passes(site.engine(store))
    store.close()
    site.stores.remove(store)
    restored = site.store("backup.db")  # knows nothing of the leads
    site.passes(site.engine(restored))
    assert _agency_lead_stamps(site) == stamps
    assert set(_stamped(site).values()) == {1}
    site.check(restored, "partner leads, store restored from before them", work)
    fresh = site.store("empty.db")
    site.passes(site.engine(fresh))
    assert _agency_lead_stamps(site) == stamps
    assert set(_stamped(site).values()) == {1}
    site.check(fresh, "partner leads, empty store", work)
