"""The ledger refuses nonsense and can be corrected: pay checks, void, entries, export."""

from __future__ import annotations

import csv
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from bridge.ledger import book
from bridge.ledger.balances import balances
from bridge.ledger.corrections import VoidRefused, void_of
from bridge.ledger.entries import EntryKind
from bridge.ledger.rules import entries_for
from bridge.store.db import Store
from sync.cli.main import app
from tests.ledger.factories import WON, commission, obs, of_amount

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """alfa owes 300 000,00 RUB (25 % of a won 1 200 000); the example mapping is in the cwd."""
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    store = Store.open(url)
    with store.transaction() as session:
        history = [obs(0, WON, "1200000.00")]
        entries = entries_for(history, commission(of_amount("0.25")), [])
        book.append(session, entries, obs(0, WON).observed_at)
    store.close()
    shutil.copy(ROOT / "mapping.yaml", tmp_path / "mapping.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BRIDGE_MAPPING", raising=False)
    monkeypatch.delenv("BRIDGE_PAYOUT_CEILING", raising=False)
    return url


def ledger(db: str, *args: str) -> Result:
    command, *rest = args
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, ["ledger", command, "--db-url", db, *rest])


def entry_rows(db: str) -> list[dict[str, str]]:
    result = ledger(db, "entries", "--format", "json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str]] = json.loads(result.output)
    return rows


@pytest.mark.parametrize(
    ("args", "named", "code"),
    [
        (["gamma", "100", "--payer", "agency"], "'gamma' is not in mapping.yaml", 2),
        (["alfa", "12.345"], "more decimals than RUB", 2),
        (["alfa", "100", "--currency", "XYZ"], "'XYZ' is not an ISO 4217", 2),
        (["alfa", "100", "--currency", "EUR"], "programme is in RUB", 2),
        (["alfa", "1e6"], "'1e6'", 2),
        (["alfa", "--", "-500"], "'-500' must be positive", 2),
        (["alfa", "1000000"], "the balance would become -700000.00 RUB", 1),
        (["alfa", "100", "--ceiling", "50"], "above the ceiling 50", 1),
    ],
)
def test_pay_refuses_nonsense_and_records_nothing(
    db: str, args: list[str], named: str, code: int
) -> None:
    result = ledger(db, "pay", *args)
    assert result.exit_code == code, result.output
    assert named in result.output
    assert [r["kind"] for r in entry_rows(db)] == ["accrual"]


def test_negative_amount_without_separator_gets_a_clear_message(db: str) -> None:
    result = ledger(db, "pay", "beta", "-500")
    assert result.exit_code == 2
    assert "'-500': negative numbers are not accepted" in result.output
    assert "No such option" not in result.output


def test_pay_above_the_balance_with_yes_says_what_it_did(db: str) -> None:
    result = ledger(db, "pay", "alfa", "1000000", "--yes")
    assert result.exit_code == 0, result.output
    assert "payout 1000000 RUB by partner for alfa: recorded" in result.output


def test_without_a_mapping_the_ledger_names_the_partners(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mapping.yaml").unlink()
    result = ledger(db, "pay", "beta", "10", "--payer", "agency")
    assert result.exit_code == 2
    assert "partner 'beta' is not in the ledger; known partners: alfa" in result.output


def test_void_appends_the_opposite_and_the_statement_shows_the_reason(db: str) -> None:
    assert ledger(db, "pay", "alfa", "1000.50", "--date", "2026-11-20").exit_code == 0
    payout = entry_rows(db)[-1]
    assert (payout["kind"], payout["amount"]) == ("payout", "1000.50")

    voided = ledger(db, "void", str(payout["id"]), "--reason", "wrong amount")
    assert voided.exit_code == 0, voided.output
    assert f"voided entry {payout['id']} of alfa" in voided.output
    again = ledger(db, "void", str(payout["id"]), "--reason", "twice")
    assert "already voided" in again.output

    rows = entry_rows(db)
    assert len(rows) == 3  # nothing deleted: accrual, payout, its void
    assert (rows[-1]["kind"], rows[-1]["amount"]) == ("payout", "-1000.50")
    assert rows[-1]["ref"] == f"void #{payout['id']}: wrong amount"

    store = Store.open(db)
    with store.transaction() as session:
        (balance,) = balances(book.read(session), obs(0, WON).observed_at)
    store.close()
    assert (balance.paid, balance.balance) == (Decimal("0.00"), Decimal("300000.00"))

    period = rows[-1]["occurred_at"][:7]
    text = ledger(db, "statement", "alfa", "--period", period, "--format", "csv").output
    voids = [r for r in csv.DictReader(io.StringIO(text)) if r["cause"].startswith("void:")]
    assert [v["ref"] for v in voids] == [f"void #{payout['id']}: wrong amount"]


def test_void_refusals_name_the_entry(db: str) -> None:
    missing = ledger(db, "void", "777", "--reason", "typo")
    assert missing.exit_code == 1 and "ledger entry 777 does not exist" in missing.output
    blank = ledger(db, "void", "1", "--reason", "  ")
    assert blank.exit_code == 2 and "--reason is empty" in blank.output


def test_a_void_of_an_accrual_is_a_reversal_and_cannot_be_voided_again() -> None:
    (accrual,) = entries_for([obs(0, WON, "1000.00")], commission(of_amount("0.25")), [])
    cancel = void_of(7, accrual, "deal was a test", obs(1, WON).observed_at)
    assert (cancel.kind, cancel.amount, cancel.rule) == (
        EntryKind.REVERSAL,
        -accrual.amount,
        accrual.rule,
    )
    assert cancel.cause == "void:7" and cancel.deal_id == accrual.deal_id
    with pytest.raises(VoidRefused, match="itself the void of entry 7"):
        void_of(8, cancel, "oops", obs(2, WON).observed_at)


def test_entries_filter_and_formats(db: str) -> None:
    assert ledger(db, "pay", "alfa", "500", "--date", "2026-12-03").exit_code == 0
    table = ledger(db, "entries", "--partner", "alfa")
    assert table.exit_code == 0 and "payout" in table.output and "accrual" in table.output
    november = json.loads(ledger(db, "entries", "--period", "2026-11", "--format", "json").output)
    assert [r["kind"] for r in november] == ["accrual"]
    text = ledger(db, "entries", "--format", "csv").output
    assert [r["kind"] for r in csv.DictReader(io.StringIO(text))] == ["accrual", "payout"]


def test_export_gives_the_whole_period_as_csv_and_xlsx(db: str, tmp_path: Path) -> None:
    assert ledger(db, "pay", "alfa", "500", "--date", "2026-12-03").exit_code == 0
    out = tmp_path / "ledger-2026.xlsx"
    result = ledger(db, "export", "--period", "2026", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0 and "2 entries" in result.output
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "occurred_at", "partner")
    amounts = [r[9] for r in rows[1:]]
    assert amounts == [300000, 500]  # numbers, not text
    text = ledger(db, "export", "--period", "2026-12").output
    assert [r["amount"] for r in csv.DictReader(io.StringIO(text))] == ["500.00"]
