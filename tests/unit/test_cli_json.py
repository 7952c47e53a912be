"""``--format json``: each read command prints one JSON document a script can rely on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.ledger import book
from bridge.ledger.rules import entries_for
from bridge.store.db import Store
from sync.cli.main import app
from tests.ledger.factories import WON, commission, obs, of_amount

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    store = Store.open(url)
    with store.transaction() as session:
        history = [obs(0, WON, "1200000.00")]
        book.append(
            session,
            entries_for(history, commission(of_amount("0.25")), []),
            obs(0, WON).observed_at,
        )
    store.close()
    shutil.copy(ROOT / "mapping.yaml", tmp_path / "mapping.yaml")
    (tmp_path / ".env").write_text("ALFA_AMO_URL=http://127.0.0.1:9\n")
    monkeypatch.chdir(tmp_path)
    return url


def _json(db: str, *args: str) -> object:
    result = CliRunner().invoke(app, [*args, "--db-url", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_read_commands_print_json(db: str) -> None:
    status = _json(db, "status")
    assert isinstance(status, dict) and status["inbox_waiting"] == 0
    assert [p["partner"] for p in status["partners"]] == ["agency"]
    assert _json(db, "parked") == []
    assert _json(db, "channels", "held") == []
    balances = _json(db, "ledger", "balances")
    assert isinstance(balances, list)
    (balance,) = balances
    assert (balance["partner"], balance["balance"], balance["currency"]) == (
        "alfa",
        "300000.00",
        "RUB",
    )
    kpi = _json(db, "kpi")
    assert isinstance(kpi, dict) and kpi["kpis"][0]["accrued"] == {"partner": "300000.00"}
    entries = _json(db, "ledger", "entries")
    assert isinstance(entries, list)
    (entry,) = entries
    assert (entry["id"], entry["kind"], entry["amount"]) == (1, "accrual", "300000.00")


def test_digest_prints_json(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AGENCY_B24_WEBHOOK", "BETA_B24_WEBHOOK"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/rest/1/x/")
    for name in (
        "AGENCY_B24_APP_TOKEN",
        "ALFA_AMO_TOKEN",
        "ALFA_AMO_HOOK_SECRET",
        "BETA_B24_APP_TOKEN",
    ):
        monkeypatch.setenv(name, "value-123")
    digest = _json(db, "digest")
    assert isinstance(digest, dict)
    assert [p["partner_code"] for p in digest["partners"]] == ["alfa", "beta"]
