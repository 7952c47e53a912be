"""``bridge kpi``: every partner's KPIs from the store, the leaderboard, the SVG chart.

Works offline (store only). ``mapping.yaml``, when readable, supplies partner
names and each partner's ``stale_after``; without it codes stand in for names and
the default of 7 days applies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_currency, format_decimal, format_percent
from rich.console import Console
from rich.table import Table

from bridge.kpi.compute import Leaderboard, PartnerKpi, Window, leaderboard, partner_kpi
from bridge.kpi.monthly import Month, last_months, month_of, months_between, series
from bridge.kpi.query import load_facts
from bridge.kpi.svg import LOCALES, render_chart
from bridge.ledger import book
from bridge.ledger.statement import Period
from bridge.mapping.compiled import Side
from bridge.store.db import Store

DEFAULT_STALE = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class PartnerInfo:
    name: str
    stale_after: dt.timedelta = DEFAULT_STALE


@dataclass(frozen=True, slots=True)
class KpiReport:
    kpis: tuple[PartnerKpi, ...]
    board: Leaderboard
    chart: str


def window_of(period: Period | None) -> Window:
    return Window(period.start_at, period.end_at) if period else Window()


def chart_months(period: Period | None, now: dt.datetime) -> tuple[Month, ...]:
    if period is None:
        return last_months(now)
    return months_between(month_of(period.start_at), month_of(period.end_at - dt.timedelta(1)))


def build_report(
    store: Store,
    now: dt.datetime,
    *,
    period: Period | None = None,
    partners: Mapping[str, PartnerInfo] | None = None,
    currency: str = "RUB",
    language: str = "ru",
) -> KpiReport:
    with store.transaction() as session:
        facts = load_facts(session)
        entries = book.read(session)
    known = dict(partners or {})
    codes = sorted({f.partner_code for f in facts} | {e.partner for e in entries} | set(known))
    info = {c: known.get(c, PartnerInfo(c)) for c in codes}
    window = window_of(period)
    kpis = tuple(
        partner_kpi(
            c,
            info[c].name,
            facts,
            entries,
            window,
            now,
            stale_after=info[c].stale_after,
            currency=currency,
        )
        for c in codes
    )
    months = chart_months(period, now)
    lines = [series(c, info[c].name, months, facts, entries, currency) for c in codes]
    return KpiReport(
        kpis, leaderboard(kpis), render_chart(lines, language=language, currency=currency)
    )


def partners_from_mapping(path: Path) -> dict[str, PartnerInfo]:
    """Names and stale thresholds from a valid mapping.yaml; empty if it cannot be read."""
    from bridge.mapping.errors import MappingInvalid
    from bridge.mapping.validate import load_mapping

    try:
        spec = load_mapping(path)
    except (MappingInvalid, OSError):
        return {}
    return {c: PartnerInfo(p.name, p.policies.stale_after) for c, p in spec.partners.items()}


HEADERS = {
    "ru": (
        "Партнёр",
        "Передано",
        "из них лидов от партнёра / партнёру",
        "В работе",
        "Выиграно",
        "Проиграно",
        "Конверсия",
        "Сумма выигранных",
        "Средняя сделка",
        "Медиана дней до 1-й стадии",
        "Дней с обновления",
        "Зависшие",
        "Комиссия начислена",
        "Комиссия оплачена",
    ),
    "en": (
        "Partner",
        "Handed over",
        "of which leads received / passed",
        "Active",
        "Won",
        "Lost",
        "Conversion",
        "Won amount",
        "Average deal",
        "Median days to 1st stage",
        "Days since update",
        "Stale",
        "Commission accrued",
        "Commission paid",
    ),
}
BOARD = {
    "ru": ("По сумме выигранных", "По конверсии"),
    "en": ("By won amount", "By conversion"),
}


def table(report: KpiReport, language: str = "ru") -> Table:
    """Metrics as rows, partners as columns: 14 metrics fit a terminal, partners are few."""
    headers = HEADERS[language]
    out = Table(headers[0], *(k.partner_name for k in report.kpis))
    columns = [_cells(k, language)[1:] for k in report.kpis]
    for i, metric in enumerate(headers[1:]):
        out.add_row(metric, *(column[i] for column in columns))
    return out


def _cells(k: PartnerKpi, language: str) -> list[str]:
    locale = LOCALES[language]

    def money(value: Decimal | None) -> str:
        return "—" if value is None else format_currency(value, k.currency, locale=locale)

    return [
        k.partner_name,
        str(k.handed),
        f"{k.leads_received} / {k.leads_passed}",
        str(k.active),
        str(k.won),
        str(k.lost),
        "—" if k.conversion is None else format_percent(k.conversion, "#,##0.#%", locale=locale),
        money(k.won_amount),
        money(k.average_deal),
        "—"
        if k.median_days_to_first_stage is None
        else format_decimal(k.median_days_to_first_stage, locale=locale),
        "—" if k.days_since_update is None else str(k.days_since_update),
        str(k.stale),
        _by_payer(k.accrued, money, language),
        _by_payer(k.paid, money, language),
    ]


PAYERS = {
    "ru": {Side.PARTNER: "партнёр → агентству", Side.AGENCY: "агентство → партнёру"},
    "en": {Side.PARTNER: "partner → agency", Side.AGENCY: "agency → partner"},
}


def _by_payer(
    values: Mapping[Side, Decimal], money: Callable[[Decimal], str], language: str
) -> str:
    labels = PAYERS[language]
    return "; ".join(f"{money(v)} ({labels[s]})" for s, v in sorted(values.items())) or "—"


def board_lines(board: Leaderboard, language: str = "ru") -> list[str]:
    by_amount, by_conversion = BOARD[language]
    return [
        f"{by_amount}: "
        + ", ".join(f"{i}. {k.partner_name}" for i, k in enumerate(board.by_won_amount, 1)),
        f"{by_conversion}: "
        + ", ".join(f"{i}. {k.partner_name}" for i, k in enumerate(board.by_conversion, 1)),
    ]


def print_report(report: KpiReport, console: Console, language: str = "ru") -> None:
    console.print(table(report, language))
    for line in board_lines(report.board, language):
        console.print(line)


def write_chart(report: KpiReport, path: Path) -> None:
    path.write_text(report.chart, encoding="utf-8")


def parse_period(spec: str | None) -> Period | None:
    return Period.parse(spec) if spec else None
