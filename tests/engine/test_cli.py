from __future__ import annotations

from typer.testing import CliRunner

from sync.cli.main import app
from tests.engine.world import World, with_broken_partner_stage


def _world_with_a_parked_link(world: World) -> str:
    deal = world.agency_deal(1, ("amo",))
    world.agency_deal(2, ("b24",))
    engine = world.engine()
    engine.update_mapping(with_broken_partner_stage(world.mapping, "amo", "102"))
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    world.amo.user_edit(partner_deal.id, stage_id="102")
    engine.sync()
    return deal.id


def test_status_parked_deal_and_retry(sqlite_world: World) -> None:
    world = sqlite_world
    parked_id = _world_with_a_parked_link(world)
    url = str(world.store.engine.url)
    runner = CliRunner(env={"COLUMNS": "300"})

    status = runner.invoke(app, ["status", "--db-url", url])
    assert status.exit_code == 0, status.output
    amo_line = next(line for line in status.output.splitlines() if "│ amo" in line)
    assert [c.strip() for c in amo_line.split("│")[2:7]] == ["0", "0", "1", "0", "0"]

    parked = runner.invoke(app, ["parked", "--db-url", url])
    assert "renamed this stage" in parked.output and parked_id in parked.output

    deal = runner.invoke(app, ["deal", parked_id, "--db-url", url])
    assert deal.exit_code == 0
    assert "audit trail" in deal.output and "create" in deal.output

    missing = runner.invoke(app, ["deal", "nope", "--db-url", url])
    assert missing.exit_code == 1

    assert runner.invoke(app, ["retry", "--db-url", url]).exit_code == 2
    retry = runner.invoke(app, ["retry", "--all", "--db-url", url])
    assert retry.exit_code == 0 and "queued 1" in retry.output
