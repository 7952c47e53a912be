"""``bridge ledger statement --format pdf`` works without a browser (WeasyPrint)."""

from __future__ import annotations

from pathlib import Path

from tests.ledger.test_cli import db, run  # noqa: F401  (db is a fixture)


def test_statement_pdf_without_a_browser(db: str, tmp_path: Path, monkeypatch: object) -> None:  # noqa: F811
    monkeypatch.setenv("PATH", "/nonexistent")  # type: ignore[attr-defined]  # no chromium anywhere
    out = tmp_path / "statement.pdf"
    run(
        "statement",
        "alfa",
        "--period",
        "2026-11",
        "--format",
        "pdf",
        "--out",
        str(out),
        "--db-url",
        db,
    )
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 2000
