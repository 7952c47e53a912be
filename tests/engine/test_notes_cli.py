"""Notes mirroring as an admin runs it: ``bridge sync`` honours ``policies.mirror_notes``.

The example ``mapping.yaml`` turns notes mirroring on. Before the engine read the
policy from the mapping, ``bridge sync`` never mirrored a note (issue 17, case 4).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.sandbox.world import SandboxWorld
from sync.cli.main import app
from tests.engine.http_world import HttpWorld, http_world

BRIDGE = str(Path(sys.executable).with_name("bridge"))


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HttpWorld]:
    with http_world(tmp_path / "world") as built:
        yield built


def _env(world: SandboxWorld) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["BRIDGE_DB_URL"] = f"sqlite:///{world.directory / 'bridge.db'}"
    env["BRIDGE_MAPPING"] = str(world.mapping_path)
    return env


def _sync(world: SandboxWorld) -> None:
    """``bridge sync`` as an admin runs it: a process of its own."""
    command = [BRIDGE, "sync", "--env-file", str(world.directory / ".env")]
    done = subprocess.run(
        command, env=_env(world), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _sync_here(world: SandboxWorld) -> None:
    """The same command in this process (the same code from the command line on, without
    the seconds a process start costs), with the same environment."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("BRIDGE_")}
    env |= _env(world)
    done = CliRunner().invoke(app, ["sync", "--env-file", str(world.directory / ".env")], env=env)
    assert done.exit_code == 0, done.output


def _agency_comments(world: SandboxWorld, deal_id: str) -> list[str]:
    portal = world.agency.portal
    with portal.lock:
        rows = [r for r in portal.comments.values() if str(r["ENTITY_ID"]) == deal_id]
    return [str(r["COMMENT"]) for r in sorted(rows, key=lambda r: int(r["ID"]))]


def _lead_notes(world: SandboxWorld, lead_id: int) -> list[str]:
    store = world.alfa.store
    with store.lock:
        rows = [n for n in store.notes.values() if n["entity_id"] == lead_id]
    return [str(n["params"].get("text", "")) for n in sorted(rows, key=lambda n: n["id"])]


def _partner_comments(world: SandboxWorld, deal_id: int) -> list[str]:
    portal = world.beta.portal
    with portal.lock:
        rows = [r for r in portal.comments.values() if r["ENTITY_ID"] == deal_id]
    return [str(r["COMMENT"]) for r in sorted(rows, key=lambda r: int(r["ID"]))]


def _partner_deal(hw: HttpWorld, code: str, agency_id: str) -> int:
    return int(hw.crms[code].find_by_stamp([agency_id])[agency_id].id)


def test_bridge_sync_mirrors_notes_both_ways_when_the_mapping_says_so(hw: HttpWorld) -> None:
    world = hw.world
    to_alfa, to_beta = world.add_agency_deals(2, ("alfa", "beta"))
    _sync(world)
    lead, beta_deal = _partner_deal(hw, "alfa", to_alfa), _partner_deal(hw, "beta", to_beta)

    # People write on both sides; the agency manager also edits the deals (so a poll sees them).
    world.alfa.add_note(lead, "Клиент просит КП до пятницы")
    with world.beta.portal.lock:
        world.beta.portal.add_comment("deal", beta_deal, "Созвон назначен на среду", 1)
    with world.agency.portal.lock:
        world.agency.portal.add_comment("deal", int(to_alfa), "Бюджет согласован", 1)
    for deal_id in (to_alfa, to_beta):
        world.agency.update_deal(deal_id, {"TITLE": f"Сделка {deal_id} (уточнено)"})
    world.advance(60)
    _sync_here(world)

    alfa_name, beta_name = "Веб-Студия Альфа", "Digital Бета"
    assert f"[partner-bridge] {alfa_name}: Клиент просит КП до пятницы" in _agency_comments(
        world, to_alfa
    )
    assert "[partner-bridge] Агентство: Бюджет согласован" in _lead_notes(world, lead)
    assert f"[partner-bridge] {beta_name}: Созвон назначен на среду" in _agency_comments(
        world, to_beta
    )

    # Nothing comes back or goes twice on the next pass.
    counts = (
        len(_agency_comments(world, to_alfa)),
        len(_lead_notes(world, lead)),
        len(_partner_comments(world, beta_deal)),
    )
    for deal_id in (to_alfa, to_beta):
        world.agency.update_deal(deal_id, {"TITLE": f"Сделка {deal_id} (ещё раз)"})
    world.advance(60)
    _sync_here(world)
    assert counts == (
        len(_agency_comments(world, to_alfa)),
        len(_lead_notes(world, lead)),
        len(_partner_comments(world, beta_deal)),
    )
