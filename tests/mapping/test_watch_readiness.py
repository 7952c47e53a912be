"""The mapping and partner checks of /readyz over a watcher: ok only for a clean file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bridge.mapping.spec import MappingSpec
from bridge.mapping.watch import MappingWatcher
from bridge.sandbox.memory import MemoryCrm
from bridge.store import health
from bridge.store.db import Store
from sync.runtime.readiness import mapping_check, readiness
from tests.mapping.conftest import EXAMPLE, fixed_env

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def _watcher(path: Path, crms: dict[str, MemoryCrm]) -> MappingWatcher:
    def crms_for(spec: MappingSpec) -> dict[str, MemoryCrm]:
        return crms

    return MappingWatcher(path, crms_for, env_for=lambda _: fixed_env())


def _written(tmp_path: Path) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_a_clean_mapping_is_ok(tmp_path: Path, crms: dict[str, MemoryCrm]) -> None:
    watcher = _watcher(_written(tmp_path), crms)
    assert watcher.poll()
    assert mapping_check(watcher) == "ok"


def test_a_mapping_naming_a_missing_stage_is_active_but_degraded(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    crms["alfa"].delete_stage("Договор")
    watcher = _watcher(_written(tmp_path), crms)
    assert watcher.poll()  # activated: only deals at that stage park
    check = mapping_check(watcher)
    assert check.startswith("degraded: 1 problem(s): mapping.yaml:"), check
    assert "Договор" in check and str(tmp_path) not in check


def test_a_partner_that_does_not_resolve_degrades_the_mapping_and_fails_its_check(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    del crms["alfa"]  # its connection could not be opened
    watcher = _watcher(_written(tmp_path), crms)
    assert watcher.poll()
    store = Store.open("sqlite://")
    try:
        report = readiness(store, watcher, NOW)
    finally:
        store.close()
    assert report.ready  # the others keep syncing
    assert report.checks["mapping"].startswith("degraded: ")
    assert report.checks["amocrm:alfa"].startswith("failing: no connection was opened")
    assert report.checks["bitrix24:beta"] == "ok" and report.checks["bitrix24:agency"] == "ok"


def test_a_partner_with_failed_passes_is_failing_in_readiness(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    watcher = _watcher(_written(tmp_path), crms)
    assert watcher.poll()
    store = Store.open("sqlite://")
    try:
        with store.transaction() as session:
            health.failure(session, "beta", "TransientError", "[bitrix24:beta] HTTP 502", NOW)
        checks = readiness(store, watcher, NOW).checks
    finally:
        store.close()
    assert checks["bitrix24:beta"] == "failing: HTTP 502"
    assert checks["amocrm:alfa"] == "ok"


def test_a_rejected_newest_file_says_so_and_keeps_the_last_good(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    path = _written(tmp_path)
    watcher = _watcher(path, crms)
    assert watcher.poll()
    path.write_text(path.read_text(encoding="utf-8").replace("percent: 40", "percent: 400"))
    assert not watcher.poll()
    check = mapping_check(watcher)
    assert check.startswith("newest file rejected: mapping.yaml:"), check
    assert check.endswith("; last good active")


def test_a_missing_file_says_so_and_keeps_the_last_good(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    path = _written(tmp_path)
    watcher = _watcher(path, crms)
    assert watcher.poll()
    path.unlink()
    watcher.poll()
    assert mapping_check(watcher) == f"file missing: {path}; last good active"
