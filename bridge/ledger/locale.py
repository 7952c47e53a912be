"""Partner-facing number/date formats and wording: Russian by default, English on request.

The wording itself (:data:`~bridge.wording.MESSAGES`) is plain data in :mod:`bridge.wording`.

Formats come from Babel (CLDR), so ``ru`` gives ``1 200 000,00 ₽`` (with no-break
spaces) and ``en`` gives ``RUB1,200,000.00``. Every text has a key;
``mapping.yaml`` may override any of them per language (:class:`Texts` takes the
overrides), and keys it does not know are reported rather than ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_percent

from bridge.wording import LOCALES, MESSAGES, RU


class Texts:
    """Wording and formats for one language, with ``overrides`` from mapping.yaml."""

    def __init__(self, language: str = "ru", overrides: Mapping[str, str] | None = None) -> None:
        if language not in MESSAGES:
            raise ValueError(f"language {language!r} not supported; use one of {sorted(MESSAGES)}")
        unknown = sorted(set(overrides or {}) - set(MESSAGES[language]))
        if unknown:
            raise ValueError(f"unknown statement text keys {unknown}; known: {sorted(RU)}")
        self.language = language
        self.locale = LOCALES[language]
        self._texts = {**MESSAGES[language], **(overrides or {})}

    def __getitem__(self, key: str) -> str:
        return self._texts[key]

    def has(self, key: str) -> bool:
        return key in self._texts

    def money(self, amount: Decimal, currency: str) -> str:
        return format_currency(amount, currency, locale=self.locale)

    def percent(self, rate: Decimal) -> str:
        return format_percent(rate, locale=self.locale, decimal_quantization=False)

    def date(self, value: dt.date | dt.datetime) -> str:
        day = value.date() if isinstance(value, dt.datetime) else value
        return format_date(
            day, "dd.MM.y" if self.language == "ru" else "d MMM y", locale=self.locale
        )

    def month(self, value: dt.date) -> str:
        return format_date(value, "LLLL y", locale=self.locale)

    def quarter(self, value: dt.date) -> str:
        return format_date(value, "QQQQ y", locale=self.locale)
