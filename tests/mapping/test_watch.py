from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bridge.mapping.spec import MappingSpec
from bridge.mapping.watch import MappingWatcher
from bridge.sandbox.memory import MemoryCrm
from tests.mapping.conftest import EXAMPLE, fixed_env


def _watcher(path: Path, crms: dict[str, MemoryCrm]) -> MappingWatcher:
    def crms_for(spec: MappingSpec) -> dict[str, MemoryCrm]:
        return crms

    return MappingWatcher(path, crms_for, env_for=lambda _: fixed_env())


def _reason(watcher: MappingWatcher) -> str | None:
    """Why the mapping is unreadable now: read afresh after each poll."""
    return watcher.unreadable


def test_changed_file_is_picked_up(tmp_path: Path, crms: dict[str, MemoryCrm]) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    watcher = _watcher(path, crms)
    assert watcher.poll() is True
    assert watcher.poll() is False  # unchanged: nothing to do
    first = watcher.compiled
    assert first is not None and not first.partners["alfa"].paused
    path.write_text(path.read_text(encoding="utf-8").replace("paused: false", "paused: true"))
    assert watcher.poll() is True
    assert watcher.compiled is not None and watcher.compiled.partners["alfa"].paused


def test_invalid_new_version_keeps_the_last_good_one(
    tmp_path: Path, crms: dict[str, MemoryCrm], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    watcher = _watcher(path, crms)
    watcher.poll()
    good = watcher.compiled
    path.write_text(path.read_text(encoding="utf-8").replace("percent: 40", "percent: 400"))
    with caplog.at_level(logging.ERROR):
        assert watcher.poll() is False
    assert watcher.compiled is good
    assert [p.path for p in watcher.rejected] == ["partners.alfa.commission.rules[0].percent"]
    assert any(r.getMessage() == "mapping.rejected" for r in caplog.records)


def test_reresolve_picks_up_drift_without_a_file_change(
    tmp_path: Path, crms: dict[str, MemoryCrm]
) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    watcher = _watcher(path, crms)
    watcher.poll()
    crms["alfa"].delete_stage("Договор")
    report = watcher.reresolve()
    assert report is not None and report.problems
    assert watcher.compiled is not None
    assert "C1:FINAL_INVOICE" in watcher.compiled.partners["alfa"].stages.broken_agency


def test_unreadable_file_keeps_nothing_active(tmp_path: Path, crms: dict[str, MemoryCrm]) -> None:
    watcher = _watcher(tmp_path / "missing.yaml", crms)
    assert watcher.poll() is False
    assert watcher.compiled is None


def test_a_missing_file_is_logged_once_per_change_not_at_every_poll(
    tmp_path: Path, crms: dict[str, MemoryCrm], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "mapping.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    watcher = _watcher(path, crms)
    assert watcher.poll()
    good = watcher.compiled
    path.unlink()
    with caplog.at_level(logging.INFO):
        for _ in range(50):  # 25 s of the daemon's drain ticks
            assert watcher.poll() is False
        unreadable = [r for r in caplog.records if r.getMessage() == "mapping.unreadable"]
        assert len(unreadable) == 1 and _reason(watcher) is not None
        assert watcher.compiled is good  # the last good mapping stays active
        path.write_text(text, encoding="utf-8")  # the same content back: nothing to reload
        assert watcher.poll() is False
        assert _reason(watcher) is None
        path.unlink()
        watcher.poll()
        watcher.poll()
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("mapping.unreadable") == 2  # once per disappearance
    assert messages.count("mapping.readable") == 1
