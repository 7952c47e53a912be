"""``bridge ledger statement --format pdf`` works without a browser (WeasyPrint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ledger.test_cli import db, run  # noqa: F401  (db is a fixture)


def test_statement_pdf_without_a_browser(
    db: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no chromium anywhere
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
