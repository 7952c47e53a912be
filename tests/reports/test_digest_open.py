"""The weekly status request over real sync passes: only open links are asked about
(never won or lost), every open deal when the policy says so, and the digest day
judged in the programme's time zone (issue 17, case 5)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.mapping.compiled import CompiledMapping, Policies, StatusRequests
from bridge.sandbox.world import SandboxWorld, sandbox_world
from sync.cli.main import app
from sync.jobs.digest import run_digest
from tests.engine.world import World, make_world

DAY = 86400


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    built = make_world(db_url)
    yield built
    built.close()


def _mapping(world: World, policies: Policies, timezone: str = "Europe/Moscow") -> CompiledMapping:
    amo = dataclasses.replace(world.mapping.partners["amo"], policies=policies)
    agency = dataclasses.replace(world.mapping.agency, timezone=timezone)
    return dataclasses.replace(world.mapping, agency=agency, partners={"amo": amo})


def _four_deals(world: World) -> dict[str, str]:
    """Agency deal → partner deal: 1 open, 2 won by the partner, 3 lost, 4 open and fresh."""
    engine = world.engine()
    deals = [world.agency_deal(n, ("amo",)) for n in (1, 2, 3, 4)]
    engine.sync()
    by_title = {d.title: d.id for d in world.amo.deals.values()}
    partner = {d.id: by_title[d.title] for d in deals}
    world.amo.user_edit(partner[deals[1].id], stage_id="142")  # won
    world.amo.user_edit(partner[deals[2].id], stage_id="143")  # lost
    engine.sync()
    world.clock.advance(8 * DAY)
    world.amo.user_edit(partner[deals[3].id], stage_id="102")  # touched today: not stale
    engine.sync()
    return {d.title: partner[d.id] for d in deals}


def _noted(world: World) -> set[str]:
    return {deal_id for deal_id, notes in world.amo.notes.items() if notes}


def test_status_requests_go_to_stale_open_deals_only(world: World) -> None:
    partner = _four_deals(world)
    mapping = _mapping(world, Policies(status_request_notes=True))
    report = run_digest(
        world.store, mapping, {"amo": world.amo}, world.clock.now(), post_notes=True
    )
    (digest,) = report.partners
    assert _noted(world) == {partner["Сделка 1"]}  # not the won (2) nor the lost (3) deal
    assert [d.partner_deal_id for d in digest.stale] == [partner["Сделка 1"]]


def test_every_open_deal_is_asked_about_when_the_policy_says_open(world: World) -> None:
    partner = _four_deals(world)
    policies = Policies(status_request_notes=True, status_request_deals=StatusRequests.OPEN)
    mapping = _mapping(world, policies)
    run_digest(world.store, mapping, {"amo": world.amo}, world.clock.now(), post_notes=True)
    assert _noted(world) == {partner["Сделка 1"], partner["Сделка 4"]}
    # Once per week: a second run the same week asks nothing more.
    again = run_digest(world.store, mapping, {"amo": world.amo}, world.clock.now(), post_notes=True)
    assert again.partners[0].notes_sent == () and len(again.partners[0].notes_skipped) == 2


def test_the_digest_day_is_judged_in_the_programmes_time_zone(world: World) -> None:
    _four_deals(world)
    thursday = Policies(digest_weekday=3)
    # Wednesday 22:30 UTC is Thursday 01:30 in Moscow.
    late_wednesday = dt.datetime(2026, 12, 2, 22, 30, tzinfo=dt.UTC)
    moscow = run_digest(
        world.store, _mapping(world, thursday), {}, late_wednesday, post_notes=False, due_only=True
    )
    assert [d.partner_code for d in moscow.partners] == ["amo"]
    utc = _mapping(world, thursday, timezone="UTC")
    assert (
        run_digest(world.store, utc, {}, late_wednesday, post_notes=False, due_only=True).partners
        == ()
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path) as started:
        yield started


def test_the_digest_per_manager(sandbox: SandboxWorld, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    base = ["digest", "--mapping", str(sandbox.mapping_path), "--db-url", db]
    runner = CliRunner()
    by = runner.invoke(app, [*base, "--by", "manager"])
    assert by.exit_code == 0, by.output
    lines = by.stdout.splitlines()
    anna = lines.index("=== Менеджер: Анна Смирнова ===")
    rest = lines.index("=== Менеджер: — ===")
    assert lines[anna + 1].startswith("Сводка по партнёру «Веб-Студия Альфа»")
    assert lines[rest + 1].startswith("Сводка по партнёру «Digital Бета»")
    own = runner.invoke(app, [*base, "--manager", "анна смирнова"])
    assert own.exit_code == 0 and "Альфа" in own.stdout and "Бета" not in own.stdout
    data = json.loads(runner.invoke(app, [*base, "--by", "manager", "--format", "json"]).stdout)
    assert data["sections"] == [
        {"group": "Анна Смирнова", "partners": ["alfa"]},
        {"group": "—", "partners": ["beta"]},
    ]
    nobody = runner.invoke(app, [*base, "--manager", "Пётр"])
    assert nobody.exit_code == 2 and "no partner has manager 'Пётр'" in nobody.output
