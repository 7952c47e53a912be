from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from bridge.kpi.query import load_facts, outcome
from bridge.kpi.report import build_report
from bridge.ledger import book
from bridge.ledger.observations import store_observation
from bridge.ledger.rules import DealObservation
from bridge.ledger.statement import Period
from bridge.model import LinkStatus, Money, Semantics
from bridge.store import audit, links
from bridge.store.db import Store
from bridge.store.tables import AuditRow, LinkRow
from sync.cli.main import app
from tests.reports.kpi_data import ENTRIES, NOW, at, rub


def _link(agency: str, partner: str, stage: str, created: dt.datetime) -> LinkRow:
    return LinkRow(
        agency_deal_id=agency,
        partner_code=partner,
        partner_deal_id=f"p{agency}",
        status=LinkStatus.ACTIVE.value,
        partner_stage=stage,
        partner_updated_at=created + dt.timedelta(days=1),
        agency_amount=Decimal("70000.00"),
        agency_currency="RUB",
        created_at=created,
    )


def _stage_move(agency: str, when: dt.datetime, old: str, new: str) -> AuditRow:
    return AuditRow(
        at=when,
        agency_deal_id=agency,
        partner_code="alfa",
        action="synced",
        field="@stage",
        old_value=f"NEW ↔ {old}",  # as the engine writes a synced pair
        new_value=f"NEW ↔ {new}",
    )


def _seed(store: Store) -> None:
    with store.transaction() as session:
        links.save(session, _link("A1", "alfa", "20", at(2)), at(2))
        links.save(session, _link("A2", "alfa", "142", at(5)), at(5))
        links.save(session, _link("A3", "alfa", "10", at(6)), at(6))
        for when, stage, amount in (
            (at(2), Semantics.OPEN, "90000.00"),
            (at(20), Semantics.WON, "100000.00"),
            (at(21), Semantics.WON, "100000.00"),
        ):
            obs = DealObservation("A1", "alfa", when, stage, Money(Decimal(amount), "RUB"))
            store_observation(session, obs)
        audit.append(session, [_stage_move("A1", at(4, 12), "10", "20")])
        book.append(session, ENTRIES, NOW)


def test_facts_from_observations_audit_and_stage_semantics(store: Store) -> None:
    _seed(store)
    with store.transaction() as session:
        plain = {f.agency_deal_id: f for f in load_facts(session)}
        semantics = {("alfa", "142"): Semantics.WON}
        mapped = {f.agency_deal_id: f for f in load_facts(session, semantics)}
    a1 = plain["A1"]
    assert (a1.outcome, a1.outcome_at, a1.amount) == (Semantics.WON, at(20), rub("100000.00"))
    assert a1.first_stage_change == at(4, 12) and a1.handed_at == at(2)
    assert plain["A2"].outcome is Semantics.OPEN  # no observation, no stage table
    assert (mapped["A2"].outcome, mapped["A2"].amount) == (Semantics.WON, rub("70000.00"))
    assert mapped["A3"].outcome is Semantics.OPEN


def test_outcome_since_the_last_change_of_semantics() -> None:
    history = [
        DealObservation("1", "alfa", at(1), Semantics.WON),
        DealObservation("1", "alfa", at(2), Semantics.OPEN),  # reopened
        DealObservation("1", "alfa", at(5), Semantics.WON),
        DealObservation("1", "alfa", at(6), Semantics.WON),
    ]
    assert outcome(history)[:2] == (Semantics.WON, at(5))
    assert outcome([])[0] is Semantics.OPEN


def test_report_over_the_store(store: Store) -> None:
    _seed(store)
    report = build_report(store, NOW, period=Period.parse("2026-11"))
    (alfa,) = report.kpis
    assert (alfa.handed, alfa.won, alfa.active) == (3, 1, 2)
    assert alfa.won_amount == Decimal("100000.00")
    assert alfa.median_days_to_first_stage == Decimal("2.5")
    assert "alfa" in report.chart


def test_cli_kpi_writes_the_chart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    store = Store.open(url)
    _seed(store)
    store.close()
    chart = tmp_path / "kpi.svg"
    args = [
        "kpi",
        "--period",
        "2026-Q4",
        "--chart",
        str(chart),
        "--db-url",
        url,
        "--mapping",
        str(tmp_path / "none.yaml"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Конверсия" in result.output and "По сумме выигранных: 1. alfa" in result.output
    assert chart.read_text(encoding="utf-8").startswith("<svg")
    bad = CliRunner().invoke(app, ["kpi", "--period", "2026-13", "--db-url", url])
    assert bad.exit_code == 2
