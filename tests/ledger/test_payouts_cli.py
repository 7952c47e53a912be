"""``bridge ledger payouts`` end to end: the shipped mapping's schedules, a cabinet request,
the registry as CSV and Excel, and ``--record`` booking a run exactly once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bridge.cabinet import requests as payout_requests
from bridge.ledger import book
from bridge.ledger.entries import EntryKind
from bridge.ledger.rules import entries_for
from bridge.store.db import Store
from sync.cli.main import app
from tests.ledger.factories import WON, commission, obs, of_amount, of_fee, of_payments
from tests.mapping.conftest import ENV_VALUES, EXAMPLE

PDF = b"%PDF-1.4 invoice"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """alfa (within: 3d) owes 40 % of a 100 000 payment; beta (twice monthly, netting)
    owes 25 % of a 100 000 win and is owed 10 % of a 50 000 fee. All on 2 November 2026."""
    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    store = Store.open(url)
    with store.transaction() as session:
        alfa = entries_for([obs(0, WON, "100000", paid="100000")], commission(of_payments()), [])
        beta_history = [obs(0, WON, "100000", fee="50000", partner="beta", deal="202")]
        beta = entries_for(beta_history, commission(of_amount("0.25"), of_fee("0.10")), [])
        book.append(session, [*alfa, *beta], obs(0, WON).observed_at)
    store.close()
    return url


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["ledger", "payouts", "--mapping", str(EXAMPLE), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_run_lists_nets_exports_and_records_once(db: str, tmp_path: Path) -> None:
    listing = run("--date", "2026-11-15", "--db-url", db, "--format", "json")
    data = json.loads(listing)
    lines = {(ln["partner"], ln["payer"]): ln for ln in data["lines"]}
    # alfa: 40 % × 100 000 = 40 000.00, payable 3 days after the payment (due_days: 3)
    assert lines[("alfa", "partner")]["amount"] == "40000.00"
    # beta: 25 000.00 owed against 5 000.00 due → one net line of 20 000.00, beta → agency
    assert lines[("beta", "partner")]["amount"] == "20000.00"
    assert lines[("beta", "partner")]["netted"] is True
    run_id = data["run_id"]
    assert run("--date", "2026-11-15", "--db-url", db).count(run_id) == 3  # title, id, command

    out = tmp_path / "registry.csv"
    assert run_id in run("--date", "2026-11-15", "--db-url", db, "--export", "csv", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    alfa = next(r for r in rows if r["partner"] == "alfa")
    assert (alfa["legal_name"], alfa["inn"], alfa["bic"]) == (
        "ООО «Веб-Студия Альфа»",
        "7701234567",
        "044525225",
    )
    assert (alfa["payer"], alfa["amount"], alfa["currency"]) == ("partner", "40000.00", "RUB")
    assert alfa["purpose"].startswith("Оплата комиссии агентства за период 02.11.2026–15.11.2026")
    xlsx = tmp_path / "registry.xlsx"
    run("--date", "2026-11-15", "--db-url", db, "--export", "xlsx", str(xlsx))
    sheet = load_workbook(xlsx).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["run_id", "partner", "legal_name"]
    assert sorted(float(str(r[11])) for r in values[1:]) == [20000.0, 40000.0]

    assert "recorded: 3 payout entries" in run("--record", run_id, "--db-url", db)
    assert "already recorded; nothing changed" in run("--record", run_id, "--db-url", db)
    store = Store.open(db)
    with store.transaction() as session:
        paid = [e for e in book.read(session) if e.kind is EntryKind.PAYOUT]
    store.close()
    assert len(paid) == 3
    assert "nothing to pay in this run" in run("--date", "2026-11-15", "--db-url", db)


def test_a_cabinet_request_joins_the_next_run_and_recording_closes_it(db: str) -> None:
    store = Store.open(db)
    now = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    with store.transaction() as session:
        payout_requests.create(session, "beta", Decimal("5000.00"), "RUB", "счёт.pdf", PDF, now)
    store.close()
    # 3 November is not one of beta's run days (1 and 15), but its request puts it in
    data = json.loads(run("--date", "2026-11-03", "--db-url", db, "--format", "json"))
    # alfa runs daily but its 40 000.00 is payable only from 5 November (due_days: 3)
    assert {ln["partner"] for ln in data["lines"]} == {"beta"}
    beta = next(ln for ln in data["lines"] if ln["partner"] == "beta")
    assert beta["requested"] == "5000.00" and "requested in cabinet" in beta["note"]
    run("--record", data["run_id"], "--db-url", db)
    store = Store.open(db)
    with store.transaction() as session:
        (request,) = payout_requests.listing(session, "beta")
    store.close()
    assert request.status == "paid" and request.payout_ref == f"run:{data['run_id']}"


def test_a_stale_or_malformed_run_id_is_one_line(db: str) -> None:
    result = CliRunner().invoke(
        app,
        ["ledger", "payouts", "--mapping", str(EXAMPLE), "--record", "20261115-00000000",
         "--db-url", db],
    )  # fmt: skip
    assert result.exit_code != 0 and "list it again" in result.output
    assert "Traceback" not in result.output
    bad = CliRunner().invoke(
        app, ["ledger", "payouts", "--mapping", str(EXAMPLE), "--record", "x", "--db-url", db]
    )
    assert bad.exit_code == 2 and "is not a run id" in bad.output
