"""Partner-facing wording and number/date formats: Russian by default, English on request.

Formats come from Babel (CLDR), so ``ru`` gives ``1 200 000,00 ₽`` (with no-break
spaces) and ``en`` gives ``RUB1,200,000.00``. Every text has a key;
``mapping.yaml`` may override any of them per language (:class:`Texts` takes the
overrides), and keys it does not know are reported rather than ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from babel.dates import format_date
from babel.numbers import format_currency, format_percent

LOCALES = {"ru": "ru_RU", "en": "en_US"}

RU = {
    "title": "Выписка по взаиморасчётам",
    "agency_name": "",  # the agency's name on statements: set it in mapping.yaml's texts
    "partner": "Партнёр",
    "agency": "Агентство",
    "period": "Период",
    "generated": "Сформирована",
    "opening": "Сальдо на начало периода",
    "closing": "Сальдо на конец периода",
    "entries": "Операции за период",
    "no_entries": "Операций за период нет",
    "overdue": "Просроченные суммы",
    "no_overdue": "Просроченных сумм нет",
    "overdue_total": "Итого просрочено",
    "col_date": "Дата",
    "col_deal": "Сделка",
    "col_operation": "Операция",
    "col_calculation": "Расчёт",
    "col_payable": "К оплате до",
    "col_amount": "Сумма",
    "col_outstanding": "Остаток",
    "partner_owes": "Партнёр → агентству",
    "agency_owes": "Агентство → партнёру",
    "kind_accrual": "Начисление",
    "kind_adjustment": "Корректировка",
    "kind_reversal": "Сторно",
    "kind_clawback": "Возврат комиссии",
    "kind_payout": "Оплата",
    "kind_membership": "Членский взнос",
    "rule_percent_of_amount": "от суммы сделки",
    "rule_percent_of_fee": "от вознаграждения агентства",
    "rule_percent_of_payments": "от поступивших оплат",
    "partner_level": "—",
    "footer": "Положительная сумма — долг указанной стороны. Оплаты погашают самые ранние суммы.",
}

EN = {
    "title": "Commission statement",
    "agency_name": "",
    "partner": "Partner",
    "agency": "Agency",
    "period": "Period",
    "generated": "Generated",
    "opening": "Opening balance",
    "closing": "Closing balance",
    "entries": "Entries in the period",
    "no_entries": "No entries in the period",
    "overdue": "Overdue amounts",
    "no_overdue": "Nothing is overdue",
    "overdue_total": "Total overdue",
    "col_date": "Date",
    "col_deal": "Deal",
    "col_operation": "Entry",
    "col_calculation": "Calculation",
    "col_payable": "Payable by",
    "col_amount": "Amount",
    "col_outstanding": "Outstanding",
    "partner_owes": "Partner → agency",
    "agency_owes": "Agency → partner",
    "kind_accrual": "Accrual",
    "kind_adjustment": "Adjustment",
    "kind_reversal": "Reversal",
    "kind_clawback": "Clawback",
    "kind_payout": "Payment",
    "kind_membership": "Membership fee",
    "rule_percent_of_amount": "of the deal amount",
    "rule_percent_of_fee": "of the agency fee",
    "rule_percent_of_payments": "of payments received",
    "partner_level": "—",
    "footer": "A positive amount is owed by the side named. Payments settle the oldest first.",
}

MESSAGES: Mapping[str, Mapping[str, str]] = MappingProxyType({"ru": RU, "en": EN})


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
