from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.model import LinkStatus
from bridge.notices import Notices
from bridge.store import links
from bridge.store.db import Store
from bridge.store.tables import LinkRow
from sync.cli.main import app
from tests.mapping.conftest import ENV_VALUES, EXAMPLE


def test_russian_by_default_english_on_request_with_babel_formats() -> None:
    ru, en = Notices(), Notices("en")
    assert ru.money(Decimal("1200000.5"), "RUB") == "1\xa0200\xa0000,50\xa0₽"
    assert en.money(Decimal("1200000.5"), "RUB") == "RUB1,200,000.50"
    day = dt.date(2026, 11, 12)
    assert (ru.date(day), en.date(day)) == ("12.11.2026", "12 Nov 2026")
    assert ru.render("match_inn", value="7707083893") == "ИНН 7707083893"
    assert en.render("match_inn", value="7707083893") == "tax id 7707083893"


def test_overrides_replace_defaults_and_typos_are_refused() -> None:
    custom = Notices("ru", {"status_request": "Коллеги, что со сделкой №{deal}? ({days} дн.)"})
    text = custom.render("status_request", deal="7", last_change="x", days=9)
    assert text == "Коллеги, что со сделкой №7? (9 дн.)"
    with pytest.raises(ValueError, match="unknown notice key 'status_reqest'"):
        Notices("ru", {"status_reqest": "…"})
    with pytest.raises(ValueError, match=r"unknown placeholders \['client'\]"):
        Notices("ru", {"status_request": "{client}"})
    with pytest.raises(ValueError, match="channel_conflict"):
        Notices("ru", {"channel_conflict": "{partner"})
    with pytest.raises(ValueError, match="not supported"):
        Notices("de")


def _stale_link(agency: str, partner: str, updated: dt.datetime) -> LinkRow:
    return LinkRow(
        agency_deal_id=agency,
        partner_code=partner,
        partner_deal_id=f"p{agency}",
        status=LinkStatus.ACTIVE.value,
        partner_updated_at=updated,
    )


def test_cli_digest_prints_each_partner_in_its_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    store = Store.open(url)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    with store.transaction() as session:
        links.save(session, _stale_link("11", "alfa", long_ago), long_ago)
        links.save(session, _stale_link("12", "beta", long_ago), long_ago)
    store.close()
    runner = CliRunner()
    base = ["digest", "--mapping", str(EXAMPLE), "--db-url", url]
    result = runner.invoke(app, [*base, "--partner", "alfa"])
    assert result.exit_code == 0, result.output
    assert "Сводка по партнёру «Веб-Студия Альфа»" in result.output
    assert "№p11 (сделка агентства 11)" in result.output
    assert "Digital Бета" not in result.output
    everyone = runner.invoke(app, base)
    assert "№p12 (сделка агентства 12)" in everyone.output
    unknown = runner.invoke(app, [*base, "--partner", "nobody"])
    assert unknown.exit_code == 2
