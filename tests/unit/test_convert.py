"""The named converters: normalisation is stable, translation refuses instead of guessing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bridge.mapping.compiled import Converter, ConverterKind, Side
from bridge.model import Money
from sync.plan.convert import (
    Ok,
    Refused,
    Unset,
    canonical_decimal,
    normalize,
    translate,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("7 916 123 45 67", "+79161234567"),
        ("+7 (916) 123-45-67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("+375 29 123-45-67", "+375291234567"),
        ("8 912 345-67-89 доб. 12", "+79123456789 ext. 12"),  # the extension travels
        ("+7 912 345", "+7 912 345"),  # not a valid number: kept as typed
        ("доб. 12", "доб. 12"),  # not a number we can place: kept as typed
    ],
)
def test_phone_russian_rules(raw: str, e164: str) -> None:
    phone = Converter(ConverterKind.PHONE)
    assert normalize(phone, raw, "RUB") == e164
    assert normalize(phone, e164, "RUB") == e164


def test_phone_and_email_lists_normalise_and_deduplicate() -> None:
    phones = normalize(Converter(ConverterKind.PHONE), ("8 916 1234567", "+79161234567", ""), "RUB")
    assert phones == ("+79161234567",)
    email = normalize(Converter(ConverterKind.EMAIL), "  Ivan@Romashka.RU ", "RUB")
    assert email == "ivan@romashka.ru"


def test_money_normalises_bare_numbers_into_the_sides_currency() -> None:
    money = Converter(ConverterKind.MONEY)
    assert normalize(money, 300, "RUB") == Money(Decimal("300"), "RUB")
    assert normalize(money, "1 500,50", "RUB") == Money(Decimal("1500.5"), "RUB")
    assert normalize(money, Money(Decimal("300.00"), "RUB"), "EUR") == Money(Decimal("300"), "RUB")
    fixed = Converter(ConverterKind.MONEY, currency="USD")
    assert normalize(fixed, Decimal("10"), "RUB") == Money(Decimal("10"), "USD")


def test_money_refuses_a_currency_mismatch() -> None:
    result = translate(
        Converter(ConverterKind.MONEY),
        Money(Decimal("10"), "USD"),
        Side.PARTNER,
        label="amount",
        currency="RUB",
    )
    assert isinstance(result, Refused)
    assert "does not convert currencies" in result.reason
    same = Money(Decimal("10"), "RUB")
    assert translate(
        Converter(ConverterKind.MONEY), same, Side.PARTNER, label="amount", currency="RUB"
    ) == Ok(same)


def test_canonical_decimal_has_one_spelling() -> None:
    assert str(canonical_decimal(Decimal("300.00"))) == "300"
    assert str(canonical_decimal(Decimal("3E+2"))) == "300"
    assert str(canonical_decimal(Decimal("1.50"))) == "1.5"


def test_number_and_text_and_date() -> None:
    assert normalize(Converter(ConverterKind.NUMBER), "42", "RUB") == Decimal("42")
    assert normalize(Converter(ConverterKind.NUMBER), 7, "RUB") == Decimal("7")
    assert normalize(Converter(ConverterKind.TEXT), "  Бриф  ", "RUB") == "Бриф"
    assert normalize(Converter(ConverterKind.TEXT), "   ", "RUB") is None
    date = Converter(ConverterKind.DATE)
    assert normalize(date, "2026-05-01", "RUB") == dt.date(2026, 5, 1)
    moscow = dt.timezone(dt.timedelta(hours=3))
    stamp = dt.datetime(2026, 5, 1, 12, tzinfo=moscow)
    assert normalize(date, stamp, "RUB") == dt.datetime(2026, 5, 1, 9, tzinfo=dt.UTC)
    midnight = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    assert normalize(date, midnight, "RUB") == dt.date(2026, 5, 1)


def test_enum_translates_by_table_and_refuses_a_missing_option() -> None:
    enum = Converter(ConverterKind.ENUM, to_partner={"61": "9001"}, to_agency={"9001": "61"})
    assert translate(enum, "61", Side.PARTNER, label="kind", currency="RUB") == Ok("9001")
    assert translate(enum, ("61",), Side.PARTNER, label="kind", currency="RUB") == Ok(("9001",))
    missing = translate(enum, ("61", "62"), Side.PARTNER, label="kind", currency="RUB")
    assert isinstance(missing, Refused) and "62" in missing.reason and "kind" in missing.reason
    assert translate(enum, "9001", Side.AGENCY, label="kind", currency="RUB") == Ok("61")


def test_user_missing_from_table_is_unset() -> None:
    users = Converter(ConverterKind.USER, to_partner={"1": "u-anna"})
    assert translate(users, "1", Side.PARTNER, label="m", currency="RUB") == Ok("u-anna")
    assert isinstance(translate(users, "2", Side.PARTNER, label="m", currency="RUB"), Unset)


@pytest.mark.parametrize("kind", list(ConverterKind))
def test_normalize_is_idempotent_and_empty_is_none(kind: ConverterKind) -> None:
    conv = Converter(kind)
    for raw in ("8 916 123-45-67", "Привет", "2026-01-02", "12.50", ("a", "b")):
        once = normalize(conv, raw, "RUB")
        assert normalize(conv, once, "RUB") == once  # type: ignore[arg-type]
    assert normalize(conv, None, "RUB") is None
    assert normalize(conv, "", "RUB") is None
