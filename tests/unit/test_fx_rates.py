"""The conversion rule (bridge.fx.rates) with plain values: which rate, which way, rounding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bridge.fx.rates import Conversion, MissingRate, Rate, RateBook
from bridge.model import Money

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2026, 12, 15)


def _book(*rates: tuple[str, str, str, dt.date]) -> RateBook:
    return RateBook.of(Rate(b, q, Decimal(r), d) for b, q, r, d in rates)


def _convert(book: RateBook, amount: str, source: str, target: str, on: dt.date) -> Conversion:
    result = book.convert(Money(Decimal(amount), source), target, on)
    assert isinstance(result, Conversion), result
    return result


def test_kzt_to_usd_divides_by_the_usd_kzt_rate() -> None:
    conv = _convert(_book(("USD", "KZT", "460", D1)), "4600000", "KZT", "USD", D2)
    assert conv.result == Money(Decimal("10000.00"), "USD")
    assert (conv.rate, conv.effective, conv.rate_text) == (Decimal(460), D1, "1 USD = 460 KZT")


def test_usd_to_rub_multiplies() -> None:
    conv = _convert(_book(("USD", "RUB", "92.50", D2)), "10000", "USD", "RUB", D2)
    assert conv.result == Money(Decimal("925000.00"), "RUB")


def test_the_latest_rate_on_or_before_the_date_is_used_never_a_later_one() -> None:
    book = _book(("USD", "RUB", "90", D1), ("USD", "RUB", "92.50", D2), ("USD", "RUB", "99", D3))
    assert _convert(book, "1", "USD", "RUB", D2).rate == Decimal("92.50")
    assert _convert(book, "1", "USD", "RUB", D2 + dt.timedelta(days=3)).rate == Decimal("92.50")
    assert _convert(book, "1", "USD", "RUB", D1).rate == Decimal(90)


def test_a_later_entry_for_the_same_day_wins_and_the_direct_pair_beats_the_reverse() -> None:
    book = _book(("USD", "RUB", "92", D2), ("USD", "RUB", "92.50", D2))
    assert _convert(book, "1", "USD", "RUB", D2).rate == Decimal("92.50")
    both = _book(("RUB", "USD", "0.011", D2), ("USD", "RUB", "92.50", D2))
    assert _convert(both, "1", "USD", "RUB", D2).base == "USD"
    assert _convert(both, "1", "RUB", "USD", D2).base == "RUB"


def test_rounding_is_half_up_to_the_minor_unit_and_the_exact_value_is_kept() -> None:
    conv = _convert(_book(("USD", "KZT", "460", D1)), "4600001", "KZT", "USD", D1)
    assert conv.result == Money(Decimal("10000.00"), "USD")
    assert conv.exact == Decimal("10000.00217391304347826086956521739")
    half = _convert(_book(("USD", "RUB", "0.5", D1)), "0.01", "USD", "RUB", D1)
    assert (half.exact, half.result.amount) == (Decimal("0.005"), Decimal("0.01"))
    yen = _convert(_book(("USD", "JPY", "150.5", D1)), "1", "USD", "JPY", D1)
    assert yen.result.amount == Decimal(151)  # JPY has no minor unit


def test_no_rate_on_or_before_the_date_names_the_pair_the_day_and_the_command() -> None:
    missing = _book(("USD", "KZT", "460", D3)).convert(Money(Decimal(1), "USD"), "KZT", D2)
    assert isinstance(missing, MissingRate)
    assert missing.reason == (
        "no USD→KZT rate on or before 2026-12-01 — "
        "bridge rates set USD KZT <rate> --date 2026-12-01"
    )
    no_cross = _book(("USD", "RUB", "92", D1), ("RUB", "KZT", "5", D1))  # never chained
    assert isinstance(no_cross.convert(Money(Decimal(1), "USD"), "KZT", D2), MissingRate)


def test_the_same_currency_is_not_converted() -> None:
    conv = _convert(RateBook(), "10", "RUB", "RUB", D1)
    assert conv.result == Money(Decimal(10), "RUB") and conv.rate == 1


@pytest.mark.parametrize("rate", ["0", "-1", "NaN"])
def test_a_rate_must_be_positive(rate: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        Rate("USD", "RUB", Decimal(rate), D1)
