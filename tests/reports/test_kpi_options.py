"""``bridge kpi`` options: groups (--by), ratings by any KPI (--rank-by), the programme's
currency and every other one, CSV/JSON, and the per-partner layout at 200 partners."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bridge.kpi.compute import LinkFacts
from bridge.kpi.rank import rank_by
from bridge.kpi.report import PartnerInfo, assemble, print_report
from bridge.ledger import book
from bridge.ledger.entries import Entry, EntryKind
from bridge.ledger.statement import Period
from bridge.mapping.compiled import Groups, Side
from bridge.model import LinkStatus, Semantics
from bridge.sandbox.world import EXAMPLE_MAPPING, SandboxWorld, sandbox_world
from bridge.store import links
from bridge.store.db import Store
from bridge.store.tables import LinkRow
from sync.cli.main import app
from tests.reports.kpi_data import ENTRIES, FACTS, NOW, at, entry

NOVEMBER = Period.parse("2026-11")
INFO = {
    "alfa": PartnerInfo("Альфа", groups=Groups(segment="amoCRM", manager="Анна", grade="gold")),
    "beta": PartnerInfo("Бета", groups=Groups(segment="Bitrix24", manager="Анна")),
}


def test_by_manager_adds_up_the_managers_partners_worked_by_hand() -> None:
    report = assemble(FACTS, ENTRIES, NOW, NOVEMBER, INFO, "RUB", "ru", by="manager")
    (anna,) = report.kpis
    assert anna.partner_name == "Анна"
    # November hand-overs: A1..A4 and B1..B3; won A1, A2, B1; lost A3; open A4, B2, B3.
    assert (anna.handed, anna.won, anna.lost, anna.active) == (7, 3, 1, 3)
    assert anna.conversion == Decimal("0.4286")  # 3 / 7
    assert anna.won_amount == Decimal("1250000.50")  # 100 000 + 250 000.50 + 900 000
    assert anna.average_deal == Decimal("416666.83")  # 1 250 000.50 / 3
    # First stage moves: A1 2.5, A2 1.0, A3 4.0, B1 2.0, B3 1.0 days → median 2.0.
    assert anna.median_days_to_first_stage == Decimal("2.0")
    assert anna.accrued == {Side.PARTNER: Decimal("100000.13")}  # alfa's November entries


def test_by_grade_puts_partners_without_one_in_their_own_row() -> None:
    report = assemble(FACTS, ENTRIES, NOW, NOVEMBER, INFO, "RUB", "ru", by="grade")
    assert [(k.partner_name, k.handed, k.won) for k in report.kpis] == [
        ("gold", 4, 2),
        ("—", 3, 1),
    ]


def _payments_model() -> tuple[list[LinkFacts], list[Entry]]:
    """Radist's per-payment model: nothing is 'won', commission accrues per payment."""
    facts = [
        LinkFacts(code, f"{code}-1", at(2), Semantics.OPEN, None, None, None, at(20))
        for code in ("alfa", "beta", "gamma")
    ]
    entries = [
        dataclasses.replace(
            entry("alfa-1", "pay:1", "2000.00", at(10), EntryKind.ACCRUAL), partner="alfa"
        ),
        dataclasses.replace(
            entry("beta-1", "pay:1", "6000.00", at(11), EntryKind.ACCRUAL), partner="beta"
        ),
        dataclasses.replace(
            entry("", "payout:1", "6000.00", at(12), EntryKind.PAYOUT), partner="beta"
        ),
        dataclasses.replace(
            entry("", "payout:1", "1500.00", at(13), EntryKind.PAYOUT), partner="alfa"
        ),
    ]
    return facts, entries


def test_rank_by_commission_and_payments_when_nothing_is_won() -> None:
    facts, entries = _payments_model()
    names = {c: PartnerInfo(c.capitalize()) for c in ("alfa", "beta", "gamma")}
    report = assemble(facts, entries, NOW, None, names, "RUB", "ru", rank="commission")
    assert all(k.won_amount == 0 and k.conversion == 0 for k in report.kpis)
    assert [k.partner_code for k in report.ranked] == ["beta", "alfa", "gamma"]  # 6000, 2000, 0
    assert [k.partner_code for k in rank_by(report.kpis, "payments")] == ["beta", "alfa", "gamma"]
    # Fewer stale deals is better; a reaction time nobody has ranks last, by name.
    assert [k.partner_code for k in rank_by(report.kpis, "reaction")] == ["alfa", "beta", "gamma"]
    with pytest.raises(ValueError, match="cannot rank by 'fame'"):
        rank_by(report.kpis, "fame")


def _seed_partners(store: Store, count: int) -> None:
    with store.transaction() as session:
        for n in range(count):
            code = f"p{n:03d}"
            for k in range(2):
                row = LinkRow(
                    agency_deal_id=f"{n}-{k}",
                    partner_code=code,
                    partner_deal_id=f"d{n}-{k}",
                    status=LinkStatus.ACTIVE.value,
                    partner_updated_at=at(20),
                    created_at=at(2),
                )
                links.save(session, row, at(2))
            accrual = entry(f"{n}-0", "won:1", f"{1000 + n}.00", at(15), EntryKind.ACCRUAL)
            book.append(session, [dataclasses.replace(accrual, partner=code)], NOW)


def test_two_hundred_partners_one_row_each(store: Store) -> None:
    from bridge.kpi.report import build_reports

    _seed_partners(store, 200)
    (report,) = build_reports(store, NOW, rank="commission")
    console = Console(width=240, record=True)
    print_report(report, console, "ru")
    lines = console.export_text().splitlines()
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 200  # one line per partner, no wrapped cells
    first, last = rows[0].split("│"), rows[-1].split("│")
    assert [c.strip() for c in first[1:3]] == ["1", "p199"]  # 1 199,00 ₽: the most commission
    assert [c.strip() for c in last[1:3]] == ["200", "p000"]
    assert "1\u00a0199,00\u00a0₽" in rows[0]  # the figure is whole, never cut
    # On an 80-column terminal the metrics split over tables, still one row per partner.
    narrow = Console(width=80, record=True)
    print_report(report, narrow, "ru")
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    per_table = [line for line in text.splitlines() if re.match(r"^│ +1 │", line)]
    assert len(per_table) >= 2 and all("p199" in line for line in per_table)


def _mapping_text(currency: str) -> str:
    text = EXAMPLE_MAPPING.read_text("utf-8")
    return text.replace(
        "  currency: RUB                 #", f"  currency: {currency}                 #", 1
    )


@pytest.fixture
def usd_world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path, mapping_text=_mapping_text("USD")) as started:
        yield started


def _kpi(world: SandboxWorld, db: str, *args: str) -> str:
    base = ["kpi", "--mapping", str(world.mapping_path), "--db-url", db]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*base, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_reports_the_programmes_currency_then_every_other(
    usd_world: SandboxWorld, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    store = Store.open(db)
    usd = dataclasses.replace(
        entry("A1", "won:1", "2500.00", at(20), EntryKind.ACCRUAL), currency="USD"
    )
    with store.transaction() as session:
        book.append(session, [usd, *ENTRIES], NOW)
    store.close()
    data = json.loads(_kpi(usd_world, db, "--format", "json"))
    assert data["currency"] == "USD"  # the mapping's agency currency, not RUB
    assert [c["currency"] for c in data["currencies"]] == ["USD", "RUB"]
    alfa = next(k for k in data["kpis"] if k["partner_code"] == "alfa")
    assert alfa["accrued"] == {"partner": "2500.00"}  # not zeros
    only = json.loads(_kpi(usd_world, db, "--format", "json", "--currency", "RUB"))
    assert [c["currency"] for c in only["currencies"]] == ["RUB"]
    table = _kpi(usd_world, db)
    assert "USD" in table and "RUB" in table and "2\u00a0500,00" in table


def test_cli_csv_ranked_and_grouped(usd_world: SandboxWorld, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    store = Store.open(db)
    with store.transaction() as session:
        book.append(session, ENTRIES, NOW)
        for fact in FACTS:
            row = LinkRow(
                agency_deal_id=fact.agency_deal_id,
                partner_code=fact.partner_code,
                partner_deal_id=f"p{fact.agency_deal_id}",
                status=LinkStatus.ACTIVE.value,
                created_at=fact.handed_at,
            )
            links.save(session, row, fact.handed_at)
    store.close()
    text = _kpi(usd_world, db, "--format", "csv", "--currency", "RUB", "--rank-by", "commission")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["rank"], r["code"], r["accrued_by_partner"]) for r in rows] == [
        ("1", "alfa", "110000.13"),  # all time, with the October fee
        ("2", "beta", ""),
    ]
    assert rows[0]["manager"] == "Анна Смирнова" and rows[0]["segment"] == "amoCRM-интеграторы"
    grouped = _kpi(usd_world, db, "--format", "csv", "--currency", "RUB", "--by", "manager")
    by_manager = {r["manager"]: r["handed"] for r in csv.DictReader(io.StringIO(grouped))}
    assert by_manager == {"Анна Смирнова": "5", "—": "3"}  # beta has no manager
    bad = CliRunner().invoke(app, ["kpi", "--rank-by", "fame", "--db-url", db])
    assert bad.exit_code == 2 and "--rank-by 'fame'" in bad.output
