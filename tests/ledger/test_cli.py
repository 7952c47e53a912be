"""``bridge ledger …`` end to end on a SQLite file, and the example statement in docs/."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.ledger import book
from bridge.ledger.example import TITLES, example_statement
from bridge.ledger.html import to_html
from bridge.ledger.locale import Texts
from bridge.ledger.rules import entries_for
from bridge.store.db import Store
from sync.cli.main import app
from tests.ledger.factories import WON, commission, obs, of_amount

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def db(tmp_path: Path) -> str:
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
    return url


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["ledger", *args])
    assert result.exit_code == 0, result.output
    return result.stdout  # logs (e.g. the migration's) go to stderr


def test_pay_then_statement_and_balances(db: str) -> None:
    out = run("pay", "alfa", "100000", "--ref", "п/п 12", "--date", "2026-11-10", "--db-url", db)
    assert "recorded" in out and "by partner" in out  # the only side that owes
    again = run("pay", "alfa", "100000", "--ref", "п/п 12", "--date", "2026-11-10", "--db-url", db)
    assert "nothing changed" in again
    text = run("statement", "alfa", "--period", "2026-11", "--format", "csv", "--db-url", db)
    rows = list(csv.DictReader(io.StringIO(text)))
    closing = next(r for r in rows if r["section"] == "closing")
    assert (closing["amount"], closing["payer"]) == ("200000.00", "partner")
    assert "200\u00a0000,00\u00a0₽" in run("balances", "--db-url", db)


def test_pay_refuses_bad_input(db: str) -> None:
    result = CliRunner().invoke(app, ["ledger", "pay", "alfa", "abc", "--db-url", db])
    assert result.exit_code == 2 and "not a number" in result.output
    result = CliRunner().invoke(app, ["ledger", "pay", "beta", "10", "--db-url", db])
    assert result.exit_code == 2 and "--payer" in result.output


def test_statement_html_to_file_and_bad_period(db: str, tmp_path: Path) -> None:
    target = tmp_path / "s.html"
    run(
        "statement",
        "alfa",
        "--period",
        "2026-Q4",
        "--format",
        "html",
        "--out",
        str(target),
        "--partner-name",
        "ООО «Альфа»",
        "--db-url",
        db,
    )
    html = target.read_text(encoding="utf-8")
    assert "ООО «Альфа»" in html and "4-й квартал 2026" in html
    result = CliRunner().invoke(
        app, ["ledger", "statement", "alfa", "--period", "2026-13", "--db-url", db]
    )
    assert result.exit_code == 2 and "YYYY-MM" in result.output


def test_the_committed_example_statement_is_what_the_code_renders() -> None:
    """docs/statement-example.html must be regenerated when rendering changes."""
    fresh = to_html(example_statement(), Texts("ru"), TITLES)
    assert (DOCS / "statement-example.html").read_text(encoding="utf-8") == fresh
    assert "Выписка по взаиморасчётам" in fresh and "ООО «Веб-Партнёр»" in fresh
    png = DOCS / "statement-example.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 300_000


def test_statement_takes_the_partner_name_from_mapping_yaml(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from bridge.mapping.validate import load_mapping

    mapping = DOCS.parent / "mapping.yaml"
    for name in set(re.findall(r"\$\{([A-Z0-9_]+)\}", mapping.read_text(encoding="utf-8"))):
        monkeypatch.setenv(name, "https://portal.example/rest/1/placeholder/")
    expected = load_mapping(mapping).partners["alfa"].name
    target = tmp_path / "s.html"
    run(
        "statement",
        "alfa",
        "--period",
        "2026-11",
        "--format",
        "html",
        "--out",
        str(target),
        "--mapping",
        str(mapping),
        "--db-url",
        db,
    )
    assert expected in target.read_text(encoding="utf-8")
