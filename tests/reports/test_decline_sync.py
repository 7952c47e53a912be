"""Issue 21 point 6, worked through the real sync path: a partner that moved its deals'
stages 10 times a month for three months, then twice in the last month, shows up with
"2 vs 10/month baseline (−80 %)" in the digest, `bridge kpi --declines`, the console and
the Prometheus metrics. The stage moves are the partner's own edits in its (in-memory)
CRM, picked up by engine passes and read back from the audit the engine writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bridge.digest.select import render
from bridge.kpi.activity import load_activity, since
from bridge.kpi.decline import Activity, DeclineRule, declines
from bridge.notices import Notices
from bridge.secrets import Secret
from bridge.store.tables import LinkRow
from sync.cli.main import app
from sync.jobs.digest import run_digest
from sync.runtime.decline_gauges import DeclineGauges
from sync.runtime.metrics import Metrics
from sync.runtime.serve import ServerThread
from sync.web.context import WebContext, signing_key
from tests.engine.world import World, make_world
from tests.mapping.conftest import ENV_VALUES, EXAMPLE
from tests.web.conftest import Site, build_app
from tests.web.seed import ADMIN

DAY = 86400
RULE = DeclineRule(activities=(Activity.STAGE_CHANGES,))
EXPECTED = "stage changes: 2 vs 10/month baseline (−80 %)"


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    # The timeline ends now (the CLI judges at the real time): it starts 120 days ago.
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=120)
    built = make_world(db_url, start)
    built.mapping = dataclasses.replace(built.mapping, decline=RULE)
    yield built
    built.close()


def _partner_moves(world: World) -> dt.datetime:
    """10 deals handed to amo; 30 own stage moves in 90 days, then 2 in the last 30."""
    engine = world.engine()
    deals = [world.agency_deal(n, ("amo",)) for n in range(10)]
    engine.sync()
    start = world.clock.now()
    with world.store.transaction() as session:
        partner_of = {
            r.agency_deal_id: r.partner_deal_id or "" for r in session.exec(select(LinkRow))
        }
    stage = {d.id: "101" for d in deals}
    moments = [1 + 3 * k for k in range(30)] + [95, 100]  # days after the hand-over
    for k, day in enumerate(moments):
        world.clock.advance((start + dt.timedelta(days=day) - world.clock.now()).total_seconds())
        deal = deals[k % 10]
        stage[deal.id] = "102" if stage[deal.id] == "101" else "101"
        world.amo.user_edit(partner_of[deal.id], stage_id=stage[deal.id])
        assert engine.sync().errors == {}
    return start + dt.timedelta(days=120)


def test_a_partner_falling_to_2_stage_moves_from_10_a_month_is_alerted_everywhere(
    world: World, tmp_path: Path
) -> None:
    now = _partner_moves(world)

    # The computation, over what the engine recorded.
    with world.store.transaction() as session:
        activity = load_activity(session, since(RULE, now))
    (found,) = declines(activity, RULE, now)
    assert (found.partner_code, found.recent_events, found.baseline_events) == ("amo", 2, 30)
    assert found.describe() == EXPECTED

    # The digest (the weekly job and `bridge digest`), in the partner's language.
    report = run_digest(world.store, world.mapping, {}, now, post_notes=False, decline=RULE)
    amo = next(d for d in report.partners if d.partner_code == "amo")
    assert amo.declines == (found,)
    lines = render(amo, now, Notices("ru"))
    assert "Активность падает: последние 30 дн. против 90 дн. до них" in lines
    assert "  • смены стадий: 2 против 10 в месяц обычно (−80 %)" in lines
    quiet = next(d for d in report.partners if d.partner_code == "b24")
    assert quiet.declines == ()

    # The Prometheus metrics, with the figures.
    metrics = Metrics()
    DeclineGauges(world.store, metrics, lambda: RULE, lambda: now).refresh(force=True)
    text = metrics.render().decode()
    labels = '{activity="stage_changes",partner="amo"}'
    assert f"bridge_activity_recent{labels} 2.0" in text
    assert f"bridge_activity_baseline{labels} 10.0" in text
    assert f"bridge_activity_decline_ratio{labels} -0.8" in text

    # The console's KPI page.
    ctx = WebContext(
        store=world.store,
        mapping=lambda: world.mapping,
        admin_token=Secret(ADMIN),
        key=signing_key(None, Secret(ADMIN)),
        clock=lambda: now,
    )
    web = build_app(ctx)
    with ServerThread(web) as running:
        http = Site(running.url, ctx, web).console()
        page = http.get(f"{running.url}/console/kpi?lang=en", timeout=10).text
    assert "Activity decline" in page
    assert "stage changes: 2 vs 10/month baseline (−80 %)" in page

    # `bridge kpi --declines` against the same store, reading mapping.yaml offline.
    folder = tmp_path / "cli"
    folder.mkdir()
    text = EXAMPLE.read_text("utf-8").replace("\n  alfa:\n", "\n  amo:\n")
    text += "alerts:\n  decline:\n    activities: [stage_changes]\n"
    (folder / "mapping.yaml").write_text(text, "utf-8")
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in ENV_VALUES.items()), "utf-8")
    url = world.store.engine.url.render_as_string(hide_password=False)
    base = ["kpi", "--declines", "--db-url", url, "--mapping", str(folder / "mapping.yaml")]
    table = CliRunner().invoke(app, [*base, "--lang", "en"])
    assert table.exit_code == 0, table.output
    assert "Activity is falling: the last 30 days against the 90 before (−50 %" in table.output
    assert "  • Веб-Студия Альфа: stage changes: 2 vs 10/month baseline (−80 %)" in table.output
    as_json = CliRunner().invoke(app, [*base, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    (row,) = json.loads(as_json.output)["declines"]
    assert (row["partner_code"], row["recent"], row["baseline"], row["change"]) == (
        "amo",
        "2.0",
        "10.0",
        "-0.80",
    )
