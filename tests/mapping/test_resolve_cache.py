"""The resolution cache over the sandboxes: shared by processes, invalidated by a mapping
edit, refreshed by the drift check (a renamed stage never keeps being written to)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from bridge.crm import Crm
from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.connect import open_crm
from bridge.mapping.resolve_cache import Key, StoreCache
from bridge.mapping.resolve_catalog import Catalog
from bridge.mapping.watch import MappingWatcher
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store.db import Store
from sync.runtime.crm_pool import CrmPool
from sync.runtime.daemon import mapping_watcher
from tests.pg import fresh_database

CONTRACT_STAGE = "Договор"  # beta's stage the agency's "Договор подписан" maps to


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path / "world") as w:
        for crm in w.resolve(open_crm).values():  # as `bridge check --fix`: stamp fields made
            crm.close()
        yield w


def _load(world: SandboxWorld, store: Store) -> tuple[MappingWatcher, CrmPool, dict[str, int]]:
    """A daemon's start-up resolution (a process of its own: its own adapters); the requests
    each account served meanwhile."""
    pool = CrmPool(open_crm)
    before = world.requests()
    watcher = mapping_watcher(world.mapping_path, store, pool)
    assert watcher.poll(), watcher.rejected
    after = world.requests()
    return watcher, pool, {label: after[label] - before[label] for label in after}


def _compiled(watcher: MappingWatcher) -> CompiledMapping:
    assert watcher.compiled is not None
    return watcher.compiled


def _contract_stage(crm: Crm) -> str:
    pipeline = next(p for p in crm.pipelines() if p.name == "Лиды от агентства")
    stage = pipeline.stage_by_name(CONTRACT_STAGE)
    assert stage is not None
    return stage.id


def test_a_second_process_resolves_from_the_store_without_reading_any_crm(
    world: SandboxWorld, tmp_path: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
    try:
        first, pool1, cold = _load(world, store)
        second, pool2, warm = _load(world, store)
        pool1.close()
        pool2.close()
    finally:
        store.close()
    assert all(cold[label] > 0 for label in ("agency", "alfa", "beta")), cold
    assert warm == {"agency": 0, "alfa": 0, "beta": 0}
    assert _compiled(second) == _compiled(first)


def test_a_mapping_edit_reads_that_partner_and_the_agency_live_again(
    world: SandboxWorld, tmp_path: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
    try:
        _, pool1, _ = _load(world, store)
        pool1.close()
        text = world.mapping_path.read_text(encoding="utf-8")
        edited = text.replace(  # beta's section only
            "      status_request_notes: true\n", "      status_request_notes: false\n"
        )
        assert edited != text
        world.mapping_path.write_text(edited, encoding="utf-8")
        watcher, pool2, requests = _load(world, store)
        pool2.close()
    finally:
        store.close()
    assert requests["alfa"] == 0, "alfa's section did not change: its cached catalog is used"
    assert requests["beta"] > 0 and requests["agency"] > 0
    assert not _compiled(watcher).partners["beta"].policies.status_request_notes


def test_a_renamed_stage_is_found_by_the_drift_check_and_the_cache_follows(
    world: SandboxWorld, tmp_path: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
    try:
        watcher, pool, _ = _load(world, store)
        stage_id = _contract_stage(pool.current()["beta"])
        assert stage_id in _compiled(watcher).partners["beta"].stages.to_partner.values()
        world.beta.rename_stage(stage_id, "Договор (архив)")
        # The daemon's drift check: what was cached longer ago than its age is read live.
        drift = MappingWatcher(
            world.mapping_path, pool.for_spec, cache=_cache(store), max_age=None, drift_age=None
        )
        assert drift.poll()
        stages = _compiled(drift).partners["beta"].stages
        # No agency stage maps to the renamed one any more: its deals park, nothing is written.
        assert stage_id not in stages.to_partner.values()
        assert any(CONTRACT_STAGE in b.reason for b in stages.broken_agency.values())
        # Another process starting now finds the refreshed catalog, not the stale one.
        later, pool2, requests = _load(world, store)
        pool2.close()
        pool.close()
    finally:
        store.close()
    assert requests == {"agency": 0, "alfa": 0, "beta": 0}
    assert stage_id not in _compiled(later).partners["beta"].stages.to_partner.values()


def test_a_catalog_older_than_the_drift_age_is_read_live(
    world: SandboxWorld, tmp_path: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
    try:
        _, pool, _ = _load(world, store)
        stage_id = _contract_stage(pool.current()["beta"])
        world.beta.rename_stage(stage_id, "Договор (архив)")
        before = world.requests()
        # reresolve() with a drift age of zero: nothing cached is young enough.
        fresh = MappingWatcher(
            world.mapping_path,
            pool.for_spec,
            cache=_cache(store),
            max_age=dt.timedelta(minutes=10),
            drift_age=dt.timedelta(0),
        )
        assert fresh.poll()  # within max_age: the stale catalog is used (the known window)
        assert stage_id in _compiled(fresh).partners["beta"].stages.to_partner.values()
        assert world.requests() == before
        fresh.reresolve()  # the drift check
        assert stage_id not in _compiled(fresh).partners["beta"].stages.to_partner.values()
        pool.close()
    finally:
        store.close()
    assert world.requests()["beta"] > before["beta"]


def _cache(store: Store) -> StoreCache:
    return StoreCache(store.engine)


@pytest.mark.postgres
def test_processes_on_one_postgresql_share_the_cache_and_read_each_account_once(
    world: SandboxWorld, pg_url: str
) -> None:
    with fresh_database("resolve") as url:
        stores = [Store.open(url) for _ in range(3)]
        results: dict[int, dict[str, int]] = {}
        pools: list[CrmPool] = []
        before = world.requests()
        barrier = threading.Barrier(3)

        def start(n: int) -> None:
            pool = CrmPool(open_crm)
            pools.append(pool)
            barrier.wait()
            watcher = mapping_watcher(world.mapping_path, stores[n], pool)
            results[n] = {"ok": int(watcher.poll())}

        threads = [threading.Thread(target=start, args=(n,)) for n in range(3)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            after = world.requests()
            alone = _one_resolution(world)
        finally:
            for pool in pools:
                pool.close()
            for store in stores:
                store.close()
    assert results == {n: {"ok": 1} for n in range(3)}
    total = {label: after[label] - before[label] for label in after}
    assert total == alone, "three processes started together read each account once"


def _one_resolution(world: SandboxWorld) -> dict[str, int]:
    """The requests one resolution of the world's mapping costs as a starting process makes
    it (every account read live, nothing cached yet)."""
    from bridge.mapping.env import Environment
    from bridge.mapping.resolve import resolve
    from bridge.mapping.validate import load_mapping

    pool = CrmPool(open_crm)
    try:
        spec = load_mapping(world.mapping_path, Environment(process=world.env))
        before = world.requests()
        resolve(spec, pool.for_spec(spec), cache=_Empty(), max_age=dt.timedelta(minutes=10))
        after = world.requests()
    finally:
        pool.close()
    return {label: after[label] - before[label] for label in after}


def test_sync_of_one_partner_resolves_and_calls_only_the_agency_and_that_partner(
    world: SandboxWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from sync.cli.passes import run_sync

    for name, value in world.env.items():  # as `bridge sync` reads them from .env
        monkeypatch.setenv(name, value)
    world.add_agency_deals(2, ["alfa", "beta"])
    store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
    quiet = Console(file=io.StringIO(), width=200)
    try:
        before = world.requests()
        report = run_sync(world.mapping_path, store, quiet, partner="alfa", dry_run=False)
        first = world.requests()
        run_sync(world.mapping_path, store, quiet, partner="alfa", dry_run=False)
        second = world.requests()
    finally:
        store.close()
    assert not report.errors
    assert first["beta"] == before["beta"], "beta is neither resolved nor synced"
    assert set(_linked(tmp_path)) == {"alfa"}, "alfa mirrored; beta left for its own pass"
    cached = {label: second[label] - first[label] for label in second}
    resolved_live = {label: first[label] - before[label] for label in first}
    # The second run resolves from the cache: it costs only the pass itself.
    assert cached["beta"] == 0
    assert cached["alfa"] < resolved_live["alfa"] and cached["agency"] < resolved_live["agency"]


def _linked(tmp_path: Path) -> dict[str, int]:
    from sqlmodel import select

    from bridge.store.tables import LinkRow

    store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
    try:
        with store.transaction() as session:
            rows = session.exec(select(LinkRow)).all()
    finally:
        store.close()
    counts: dict[str, int] = {}
    for row in rows:
        if row.partner_deal_id:
            counts[row.partner_code] = counts.get(row.partner_code, 0) + 1
    return counts


class _Empty:
    """A cache that holds nothing and keeps nothing: every account is read live."""

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        yield

    def load(self, keys: Mapping[str, Key], newer_than: dt.datetime) -> dict[str, Catalog]:
        return {}

    def save(self, entries: Mapping[Key, Catalog], now: dt.datetime) -> None:
        return None

    def forget(self) -> None:
        return None
