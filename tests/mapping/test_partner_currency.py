"""A partner's own ``currency:`` in mapping.yaml: checked with its line, carried to the
compiled mapping (and to the amoCRM account's prices), commission left in the agency's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.mapping.validate import validate_text
from tests.mapping.conftest import EXAMPLE, fixed_env

TEXT = EXAMPLE.read_text(encoding="utf-8")
ALFA_CURRENCY = "    currency: RUB               # the currency its CRM keeps"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("value", "says"),
    [("KZX", "is not an ISO 4217 currency"), ("kzt", "write three capital letters")],
)
def test_a_bad_partner_currency_is_refused_with_its_line(value: str, says: str) -> None:
    assert ALFA_CURRENCY in TEXT
    text = TEXT.replace(ALFA_CURRENCY, ALFA_CURRENCY.replace("RUB", value))
    _, problems = validate_text(text, "mapping.yaml", fixed_env())
    line = _line_of(text, f"currency: {value}")
    assert any(
        p.line == line and "partners.alfa.currency" in str(p) and says in p.message
        for p in problems
    ), [str(p) for p in problems]


def test_a_kzt_partner_keeps_kzt_while_commission_stays_in_the_agencys_currency() -> None:
    text = TEXT.replace(ALFA_CURRENCY, ALFA_CURRENCY.replace("RUB", "KZT"))
    text = text.replace("      currency: RUB\n      rules:", "      rules:", 1)  # alfa's own
    spec, problems = validate_text(text, "mapping.yaml", fixed_env())
    assert spec is not None, [str(p) for p in problems]
    alfa = spec.partners["alfa"]
    assert alfa.currency == "KZT"
    assert alfa.connection.currency == "KZT"  # the amoCRM account's bare prices are KZT
    assert {rule.currency for rule in alfa.rules} == {"RUB"}  # agency.currency


RATES = """
rates:
  - base: USD
    quote: KZT
    rate: 460
    date: "2026-11-01"
  - base: USD
    quote: XYZ
    rate: 0
    date: "2026-13-01"
"""


def test_mapping_rates_are_checked_with_their_lines_and_compiled() -> None:
    text = TEXT + RATES
    _, problems = validate_text(text, "mapping.yaml", fixed_env())
    found = {(p.line, p.message.split(" — ")[0]) for p in problems if " rates[" in str(p)}
    assert found == {
        (_line_of(text, "quote: XYZ"), "'XYZ' is not an ISO 4217 currency"),
        (_line_of(text, "rate: 0"), "rate 0 must be positive"),
        (_line_of(text, '"2026-13-01"'), "'2026-13-01' is not a date"),
    }, [str(p) for p in problems]
    spec, problems = validate_text(
        TEXT + RATES.split("  - base: USD\n    quote: XYZ", maxsplit=1)[0], "m", fixed_env()
    )
    assert spec is not None, [str(p) for p in problems]
    (rate,) = spec.rates
    assert (rate.base, rate.quote, rate.rate, rate.effective.isoformat(), rate.entered_by) == (
        "USD", "KZT", Decimal(460), "2026-11-01", "mapping.yaml"
    )  # fmt: skip
