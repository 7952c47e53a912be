"""``bridge kpi``: every partner's KPIs from the store, the leaderboard, the SVG chart.

Works offline (store only). ``mapping.yaml``, when readable, supplies partner
names, each partner's ``stale_after`` and groups (segment, manager, grade), and the
programme's currency (the agency's); without it codes stand in for names, the
default of 7 days applies and the currency is RUB. Every currency found in the
store gets its own report (:func:`build_reports`), the programme's first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from babel.numbers import format_currency, format_decimal, format_percent
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from bridge.kpi.compute import (
    Leaderboard,
    LinkFacts,
    PartnerKpi,
    Window,
    leaderboard,
    partner_kpi,
)
from bridge.kpi.groups import group_kpis, group_of
from bridge.kpi.monthly import Month, last_months, month_of, months_between, series
from bridge.kpi.query import load_facts
from bridge.kpi.rank import rank_by
from bridge.kpi.svg import LOCALES, render_chart
from bridge.ledger import book
from bridge.ledger.entries import Entry
from bridge.ledger.statement import Period
from bridge.mapping.compiled import Groups, Side
from bridge.model import Semantics
from bridge.store.db import Store

DEFAULT_STALE = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class PartnerInfo:
    name: str
    stale_after: dt.timedelta = DEFAULT_STALE
    groups: Groups = field(default_factory=Groups)


@dataclass(frozen=True, slots=True)
class Programme:
    """What ``bridge kpi`` takes from mapping.yaml."""

    partners: Mapping[str, PartnerInfo]
    currency: str = "RUB"


@dataclass(frozen=True, slots=True)
class KpiReport:
    kpis: tuple[PartnerKpi, ...]
    board: Leaderboard
    chart: str
    currency: str = "RUB"
    ranked: tuple[PartnerKpi, ...] = ()  # by ``rank_by``, best first (empty: not asked)
    rank_by: str | None = None
    by: str | None = None  # the kpis are groups (segment, manager, grade), not partners
    groups: Mapping[str, Groups] = field(default_factory=dict)  # partner code → its groups


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
    by: str | None = None,
    among: Collection[str] | None = None,
) -> KpiReport:
    with store.transaction() as session:
        facts = load_facts(session)
        entries = book.read(session)
    known = partners or {}
    return assemble(facts, entries, now, period, known, currency, language, by=by, among=among)


def build_reports(
    store: Store,
    now: dt.datetime,
    *,
    period: Period | None = None,
    programme: Programme | None = None,
    currency: str | None = None,
    language: str = "ru",
    rank: str | None = None,
    by: str | None = None,
) -> list[KpiReport]:
    """One report per currency: ``currency`` only, else the programme's currency first and
    every other currency the store holds (won amounts or ledger entries) after it."""
    chosen = programme or Programme({})
    with store.transaction() as session:
        facts = load_facts(session)
        entries = book.read(session)
    wanted = [currency] if currency else currencies(facts, entries, chosen.currency)
    return [
        assemble(facts, entries, now, period, chosen.partners, c, language, rank=rank, by=by)
        for c in wanted
    ]


def currencies(facts: Sequence[LinkFacts], entries: Sequence[Entry], first: str) -> list[str]:
    found = {e.currency for e in entries}
    found |= {f.amount.currency for f in facts if f.amount and f.outcome is Semantics.WON}
    return [first, *sorted(found - {first})]


def assemble(
    facts: Sequence[LinkFacts],
    entries: Sequence[Entry],
    now: dt.datetime,
    period: Period | None,
    known: Mapping[str, PartnerInfo],
    currency: str,
    language: str,
    *,
    rank: str | None = None,
    by: str | None = None,
    among: Collection[str] | None = None,
) -> KpiReport:
    """The report in ``currency``; ``among``: only these partners (a console filter)."""
    codes = sorted({f.partner_code for f in facts} | {e.partner for e in entries} | set(known))
    codes = [c for c in codes if among is None or c in among]
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
    groups = {c: info[c].groups for c in codes}
    months = chart_months(period, now)
    lines = [series(c, info[c].name, months, facts, entries, currency) for c in codes]
    chart = render_chart(lines, language=language, currency=currency)
    if by is not None:
        kpis = group_kpis(kpis, groups, by, facts, entries, window, now, currency=currency)
    return KpiReport(
        kpis,
        leaderboard(kpis),
        chart,
        currency,
        ranked=rank_by(kpis, rank) if rank else (),
        rank_by=rank,
        by=by,
        groups=groups,
    )


def partners_from_mapping(path: Path) -> dict[str, PartnerInfo]:
    """Names and stale thresholds from a valid mapping.yaml; empty if it cannot be read."""
    return dict(programme_from_mapping(path).partners)


def programme_from_mapping(path: Path) -> Programme:
    """Partners (names, stale thresholds, groups) and the programme's currency from a valid
    mapping.yaml; no partners and RUB if it cannot be read."""
    from bridge.mapping.errors import MappingInvalid
    from bridge.mapping.validate import load_mapping

    try:
        spec = load_mapping(path)
    except (MappingInvalid, OSError):
        return Programme({})
    partners = {
        c: PartnerInfo(p.name, p.policies.stale_after, p.groups) for c, p in spec.partners.items()
    }
    return Programme(partners, spec.agency.currency)


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


# The per-partner table's column titles: short, so a row stays one line (the long ones
# above name the same metrics in CSV/JSON and in the console).
SHORT_HEADERS = {
    "ru": (
        "Партнёр",
        "Передано",
        "Лиды от/к",
        "В работе",
        "Выигр.",
        "Проигр.",
        "Конверсия",
        "Сумма выигр.",
        "Ср. сделка",
        "Реакция, дн.",
        "Без обн., дн.",
        "Зависш.",
        "Комиссия",
        "Оплачено",
    ),
    "en": (
        "Partner",
        "Handed",
        "Leads in/out",
        "Active",
        "Won",
        "Lost",
        "Conversion",
        "Won amount",
        "Avg deal",
        "Reaction, d",
        "No update, d",
        "Stale",
        "Commission",
        "Paid",
    ),
}
LEGEND = {
    "ru": "Лиды от/к — лидов получено от партнёра / передано ему; "
    "Реакция — медиана дней до 1-й стадии; ",
    "en": "Leads in/out — leads received from the partner / passed to it; "
    "Reaction — median days to the 1st stage; ",
}
GROUP_TITLES = {
    "ru": {"segment": "Сегмент", "manager": "Менеджер", "grade": "Грейд"},
    "en": {"segment": "Segment", "manager": "Manager", "grade": "Grade"},
}


def table(report: KpiReport, language: str = "ru") -> Table:
    """Every metric in one table (see :func:`tables`)."""
    return tables(report, language)[0]


def tables(report: KpiReport, language: str = "ru", width: int | None = None) -> list[Table]:
    """One row per partner (or group), metrics as columns: readable at 200 partners.

    Ranked (``--rank-by``) rows come best first with their place; otherwise by name.
    Partners' segment, manager and grade get columns when the mapping sets any. Figures
    are never cut: when the metrics do not fit ``width`` they are split over several
    tables, each still one row per partner.
    """
    headers = SHORT_HEADERS[language]
    titles = GROUP_TITLES[language]
    first = titles[report.by] if report.by else headers[0]
    shown = [] if report.by else [k for k in titles if any(g.of(k) for g in report.groups.values())]
    rows = report.ranked or report.kpis
    cells = [_cells(k, language, short=True) for k in rows]
    extra = [[group_of(report.groups.get(k.partner_code), key) for key in shown] for k in rows]
    lead: list[tuple[str, list[str]]] = []
    if report.ranked:
        lead.append(("№", [str(i) for i in range(1, len(rows) + 1)]))
    lead.append((first, [row[0] for row in cells]))
    lead += [(titles[key], [e[i] for e in extra]) for i, key in enumerate(shown)]
    metrics = [(h, [row[i] for row in cells]) for i, h in enumerate(headers[1:], 1)]
    # Split: the groups show in the first table only; every table keeps place and name.
    short = lead[: 2 if report.ranked else 1]
    chunks = _split(lead, short, metrics, width)
    out = []
    for n, chunk in enumerate(chunks):
        title = (
            report.currency if len(chunks) == 1 else f"{report.currency} ({n + 1}/{len(chunks)})"
        )
        part = Table(title=title, title_justify="left")
        keys = lead if n == 0 else short
        for name, _values in keys:
            numeric = name == "№"
            part.add_column(
                name,
                justify="right" if numeric else "left",
                no_wrap=True,
                overflow="ellipsis",
                max_width=None if numeric else 32,
            )
        for name, values in chunk:
            part.add_column(name, justify="right", no_wrap=True, min_width=_width(name, values))
        for i in range(len(rows)):
            part.add_row(*(v[i] for _, v in keys), *(v[i] for _, v in chunk))
        out.append(part)
    return out


Column = tuple[str, list[str]]


def _width(name: str, values: list[str]) -> int:
    return max([cell_len(name), *(cell_len(v) for v in values)])


def _split(
    lead: list[Column], short: list[Column], metrics: list[Column], width: int | None
) -> list[list[Column]]:
    if width is None:
        return [metrics]

    def used(columns: list[Column]) -> int:
        return sum(min(_width(n, v), 32) + 3 for n, v in columns) + 1

    chunks: list[list[Column]] = [[]]
    room = width - used(lead)
    for column in metrics:
        need = _width(*column) + 3
        if chunks[-1] and need > room:
            chunks.append([])
            room = width - used(short)
        chunks[-1].append(column)
        room -= need
    return chunks


def _cells(k: PartnerKpi, language: str, *, short: bool = False) -> list[str]:
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
        _by_payer(k.accrued, money, language, short=short),
        _by_payer(k.paid, money, language, short=short),
    ]


PAYERS = {
    "ru": {Side.PARTNER: "партнёр → агентству", Side.AGENCY: "агентство → партнёру"},
    "en": {Side.PARTNER: "partner → agency", Side.AGENCY: "agency → partner"},
}
SHORT_PAYERS = {
    "ru": {Side.PARTNER: "п→а", Side.AGENCY: "а→п"},
    "en": {Side.PARTNER: "p→a", Side.AGENCY: "a→p"},
}


def payer_legend(language: str = "ru") -> str:
    short, full = SHORT_PAYERS[language], PAYERS[language]
    return "; ".join(f"{short[s]}: {full[s]}" for s in (Side.PARTNER, Side.AGENCY))


def _by_payer(
    values: Mapping[Side, Decimal],
    money: Callable[[Decimal], str],
    language: str,
    *,
    short: bool = False,
) -> str:
    labels = (SHORT_PAYERS if short else PAYERS)[language]
    return "; ".join(f"{money(v)} ({labels[s]})" for s, v in sorted(values.items())) or "—"


RANKED = {"ru": "Рейтинг по {key}", "en": "Ranked by {key}"}
TOP = 10  # a leaderboard line names the first ten; the table has every row


def board_lines(report: KpiReport | Leaderboard, language: str = "ru") -> list[str]:
    board = report.board if isinstance(report, KpiReport) else report
    by_amount, by_conversion = BOARD[language]
    lines = [
        f"{by_amount}: {_top(board.by_won_amount, language)}",
        f"{by_conversion}: {_top(board.by_conversion, language)}",
    ]
    if isinstance(report, KpiReport) and report.ranked and report.rank_by:
        title = RANKED[language].format(key=report.rank_by)
        lines.append(f"{title}: {_top(report.ranked, language)}")
    return lines


def _top(kpis: Sequence[PartnerKpi], language: str) -> str:
    named = ", ".join(f"{i}. {k.partner_name}" for i, k in enumerate(kpis[:TOP], 1))
    rest = len(kpis) - TOP
    if rest > 0:
        named += f" … (+{rest})" if language == "en" else f" … (ещё {rest})"
    return named


def print_report(report: KpiReport, console: Console, language: str = "ru") -> None:
    for part in tables(report, language, console.width):
        console.print(part)
    console.print(LEGEND[language] + payer_legend(language))
    for line in board_lines(report, language):
        console.print(line)


def write_chart(report: KpiReport, path: Path) -> None:
    path.write_text(report.chart, encoding="utf-8")


def parse_period(spec: str | None) -> Period | None:
    return Period.parse(spec) if spec else None
