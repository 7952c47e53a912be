"""The KPI chart as a hand-built SVG: won deals and commission per month, one colour
per partner. No plotting library: two panels of grouped bars, axis ticks at round
numbers, labels as text (Cyrillic kept as is; the file is UTF-8).

Kept hand-built on purpose: the same chart drawn with matplotlib (Agg) and with
pygal was compared side by side and was no better — matplotlib's default axis
left no headroom above the tallest bar, and pygal draws one chart per SVG, so the
two panels neither share one file nor line up — while matplotlib would add numpy,
Pillow and fontTools (about 120 MB) to the image for 100 lines of drawing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from html import escape

from babel.dates import format_date
from babel.numbers import format_decimal, get_currency_symbol

from bridge.kpi.monthly import Month, Series

WIDTH, PANEL, TOP, LEFT, RIGHT, BOTTOM = 960, 280, 56, 80, 24, 44
COLOURS = ("#2f6fdf", "#e0782b", "#2e9d58", "#c23b5a", "#7a52c7", "#8a7a2a", "#1f9bb0", "#666")
LOCALES = {"ru": "ru_RU", "en": "en_US"}
TITLES = {
    "ru": ("Показатели партнёров", "Выигранные сделки по месяцам", "Комиссия по месяцам, {sym}"),
    "en": ("Partner KPIs", "Deals won per month", "Commission per month, {sym}"),
}


def nice_max(value: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (at least 1)."""
    if value <= 1:
        return Decimal(1)
    exponent = len(str(int(value))) - 1
    for step in (1, 2, 5, 10):
        top = Decimal(step) * Decimal(10) ** exponent
        if top >= value:
            return top
    raise AssertionError("unreachable: 10 × 10ⁿ exceeds any value with n+1 digits")


def render_chart(series: Sequence[Series], *, language: str = "ru", currency: str = "RUB") -> str:
    locale = LOCALES[language]
    title, won_title, money_title = TITLES[language]
    symbol = get_currency_symbol(currency, locale=locale)
    months = series[0].months if series else ()
    legend_rows = (len(series) + 3) // 4
    height = TOP + 2 * (PANEL + BOTTOM) + 24 * legend_rows + 16
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif">',
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>',
        _text(WIDTH / 2, 28, title, size=20, anchor="middle", bold=True),
    ]
    won = [[Decimal(v) for v in s.won] for s in series]
    money = [list(s.commission) for s in series]
    parts += _panel(TOP, won_title, months, won, locale, integer=True)
    parts += _panel(TOP + PANEL + BOTTOM, money_title.format(sym=symbol), months, money, locale)
    parts += _legend(series, TOP + 2 * (PANEL + BOTTOM))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _panel(
    y0: float,
    title: str,
    months: Sequence[Month],
    values: list[list[Decimal]],
    locale: str,
    *,
    integer: bool = False,
) -> list[str]:
    plot_top, plot_h = y0 + 28, PANEL - 40
    base = plot_top + plot_h
    highest = max((v for row in values for v in row), default=Decimal(0))
    # Counts get whole-number ticks: the top is the next multiple of the 4 gridlines.
    top = Decimal(max(4, -(-int(highest) // 4) * 4)) if integer else nice_max(highest)
    out = [_text(LEFT, y0 + 14, title, size=15, bold=True)]
    for i in range(5):
        tick = top * i / 4
        y = base - plot_h * i / 4
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{"#999" if i == 0 else "#e3e3e3"}"/>'
        )
        out.append(
            _text(
                LEFT - 8,
                y + 4,
                format_decimal(tick.normalize(), locale=locale),
                size=11,
                anchor="end",
            )
        )
    slot = (WIDTH - LEFT - RIGHT) / max(len(months), 1)
    bar = slot * 0.8 / max(len(values), 1)
    for m, month in enumerate(months):
        x0 = LEFT + slot * m + slot * 0.1
        for p, row in enumerate(values):
            # A month netting below zero (reversals) draws no bar; the table has the number.
            h = max(float(row[m] / top), 0.0) * plot_h
            out.append(
                f'<rect x="{x0 + bar * p:.1f}" y="{base - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[p % len(COLOURS)]}"/>'
            )
        label = format_date(dt.date(month[0], month[1], 1), "LLL yy", locale=locale)
        out.append(_text(LEFT + slot * (m + 0.5), base + 16, label, size=11, anchor="middle"))
    return out


def _legend(series: Sequence[Series], y0: float) -> list[str]:
    out = []
    column = (WIDTH - LEFT - RIGHT) / 4
    for i, s in enumerate(series):
        x, y = LEFT + column * (i % 4), y0 + 24 * (i // 4) + 8
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="14" height="14" '
            f'fill="{COLOURS[i % len(COLOURS)]}"/>'
        )
        out.append(_text(x + 20, y + 12, s.partner_name, size=13))
    return out


def _text(
    x: float, y: float, text: str, *, size: int, anchor: str = "start", bold: bool = False
) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
        f"{weight}>{escape(text)}</text>"
    )
