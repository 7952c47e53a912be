import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bridge.model import ChangePage, Deal, Money, Pipeline, Semantics, Stage


def _deal(**overrides: object) -> Deal:
    values: dict[str, object] = {
        "id": "1",
        "title": "Сайт для ООО «Ромашка»",
        "pipeline_id": "0",
        "stage_id": "NEW",
        "amount": Money(Decimal("150000.00"), "RUB"),
        "created_at": dt.datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("Europe/Moscow")),
        "updated_at": dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC),
    }
    values.update(overrides)
    return Deal(**values)  # type: ignore[arg-type]


def test_money_refuses_floats_and_bad_currency() -> None:
    with pytest.raises(TypeError):
        Money(100.5, "RUB")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO"):
        Money(Decimal("1"), "rub")
    with pytest.raises(ValueError, match="finite"):
        Money(Decimal("NaN"), "RUB")
    assert str(Money(Decimal("10.50"), "RUB")) == "10.50 RUB"


def test_deal_times_become_utc_and_naive_is_refused() -> None:
    deal = _deal()
    assert deal.created_at.tzinfo is dt.UTC
    assert deal.created_at.hour == 9  # 12:00 Moscow is 09:00 UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        _deal(updated_at=dt.datetime(2026, 1, 1))


def test_deal_fields_are_read_only_and_cyrillic_survives() -> None:
    deal = _deal(fields={"UF_CRM_NOTE": "Привет"})
    assert deal.fields["UF_CRM_NOTE"] == "Привет"
    with pytest.raises(TypeError):
        deal.fields["UF_CRM_NOTE"] = "x"  # type: ignore[index]


def test_pipeline_finds_stages_by_name_ignoring_case() -> None:
    stages = (
        Stage("C1:NEW", "Новая", "1", Semantics.OPEN),
        Stage("C1:WON", "Сделка успешна", "1", Semantics.WON),
    )
    pipeline = Pipeline("1", "Партнёрские сделки", stages)
    assert pipeline.stage_by_name(" сделка УСПЕШНА ") == stages[1]
    assert pipeline.stage_by_name("Нет такой") is None
    assert pipeline.stage_by_id("C1:NEW") == stages[0]


def test_change_page_watermark_must_be_aware() -> None:
    with pytest.raises(ValueError):
        ChangePage((), dt.datetime(2026, 1, 1))
