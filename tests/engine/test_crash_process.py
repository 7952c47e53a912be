"""A real process death (``BRIDGE_CRASH_AT`` → ``os._exit(137)``) between create and commit.

The dying run is ``python -m tests.crash_switch sync ...`` (``bridge sync`` with the
test kill switch armed); the restart is the real ``bridge sync``, with the same
``BRIDGE_CRASH_AT`` still set, which the product ignores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.http_world import HttpWorld, http_world

BRIDGE = [str(Path(sys.executable).with_name("bridge"))]
ARMED_BRIDGE = [sys.executable, "-m", "tests.crash_switch"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HttpWorld]:
    with http_world(tmp_path / "world") as built:
        yield built


def _bridge_sync(hw: HttpWorld, db_url: str, crash_at: str, *, armed: bool) -> int:
    env = {**os.environ, **hw.world.env, "BRIDGE_CRASH_AT": crash_at}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    bridge = ARMED_BRIDGE if armed else BRIDGE
    done = subprocess.run(
        [*bridge, "sync", "--mapping", str(hw.world.mapping_path), "--db-url", db_url],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return done.returncode


# One real process death is enough here: the other crash points run in-process in
# test_http.py and test_reliability.py (each subprocess costs ~3 s of start-up).
@pytest.mark.parametrize("point", ["after_remote_create"])
def test_killed_process_then_restart_leaves_exactly_one_partner_deal(
    hw: HttpWorld, tmp_path: Path, point: str
) -> None:
    ids = hw.world.add_agency_deals(20, ("alfa", "beta"))
    db_url = f"sqlite:///{tmp_path / 'daemon.db'}"
    assert _bridge_sync(hw, db_url, point, armed=True) == 137
    created_before_restart = len(hw.world.alfa.lead_ids()) + len(hw.world.beta.deal_ids())
    assert _bridge_sync(hw, db_url, point, armed=False) == 0  # the product has no kill switch
    for code, half in (("alfa", ids[0::2]), ("beta", ids[1::2])):
        found = hw.crms[code].find_by_stamp(half)
        assert sorted(found) == sorted(half)
    if point == "before_local_commit":  # every create had happened: nothing new after restart
        assert (
            len(hw.world.alfa.lead_ids()) + len(hw.world.beta.deal_ids()) == created_before_restart
        )
    stamps = [
        d.stamp
        for code in ("alfa", "beta")
        for d in hw.crms[code].fetch_deals(_all_ids(hw, code)).values()
        if d.stamp in set(ids)
    ]
    assert sorted(stamps) == sorted(ids)  # no stamp twice: never two partner deals per link


def _all_ids(hw: HttpWorld, code: str) -> list[str]:
    if code == "alfa":
        return [str(i) for i in hw.world.alfa.lead_ids()]
    return hw.world.beta.deal_ids()


def test_bridge_sync_dry_run_and_partner_filter_in_process(
    hw: HttpWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from sync.cli.main import app

    for name, value in hw.world.env.items():
        monkeypatch.setenv(name, value)
    hw.world.add_agency_deals(4, ("alfa", "beta"))
    alfa_before, beta_before = len(hw.world.alfa.lead_ids()), len(hw.world.beta.deal_ids())
    runner = CliRunner(env={"COLUMNS": "200"})
    base = [
        "sync",
        "--mapping",
        str(hw.world.mapping_path),
        "--db-url",
        f"sqlite:///{tmp_path / 'c.db'}",
    ]
    dry = runner.invoke(app, [*base, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "CreatePartnerDeal" in dry.output and "nothing written" in dry.output
    assert len(hw.world.alfa.lead_ids()) == alfa_before
    unknown = runner.invoke(app, [*base, "--partner", "nope"])
    assert unknown.exit_code == 2 and "--partner 'nope' is not in" in unknown.output
    only_alfa = runner.invoke(app, [*base, "--partner", "alfa"])
    assert only_alfa.exit_code == 0, only_alfa.output
    assert len(hw.world.alfa.lead_ids()) > alfa_before
    assert len(hw.world.beta.deal_ids()) == beta_before  # only the chosen partner was synced
