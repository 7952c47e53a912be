"""The statements' default wording per language: plain data, no formatting library.

Both the ledger (:mod:`bridge.ledger.locale` formats statements with it) and the
mapping check (:mod:`bridge.mapping.texts` validates ``texts:`` overrides against
it) read these tables, so they live here, below both.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

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
    "kind_notice": "Начисление сохранено",
    "notice_orphaned": "сделку удалили у партнёра после начисления",
    "notice_closed": "сделка удалена или выведена из партнёрской воронки после начисления",
    "rule_percent_of_amount": "от суммы сделки",
    "rule_percent_of_fee": "от вознаграждения агентства",
    "rule_percent_of_payments": "от поступивших оплат",
    "fx_at": "по курсу",
    "fx_on": "на",
    "fx_exact": "точно",
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
    "kind_notice": "Commission kept",
    "notice_orphaned": "the partner deleted the deal after commission was booked",
    "notice_closed": "the deal was deleted or left the partner pipeline after booking",
    "rule_percent_of_amount": "of the deal amount",
    "rule_percent_of_fee": "of the agency fee",
    "rule_percent_of_payments": "of payments received",
    "fx_at": "at",
    "fx_on": "of",
    "fx_exact": "exactly",
    "partner_level": "—",
    "footer": "A positive amount is owed by the side named. Payments settle the oldest first.",
}

MESSAGES: Mapping[str, Mapping[str, str]] = MappingProxyType({"ru": RU, "en": EN})
