"""A statement as one self-contained, printable A4 HTML page (Russian by default).

Everything is inline (CSS, no scripts, no web fonts), so the file can be mailed,
opened offline and printed or turned into PDF by a headless browser. The font
stack names fonts with full Cyrillic coverage that ship with common systems.
Every value is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from html import escape

from bridge.ledger.balances import direction
from bridge.ledger.entries import Entry
from bridge.ledger.locale import Texts
from bridge.ledger.render import (
    NO_TITLES,
    calculation,
    deal_label,
    direction_label,
    effect,
    operation,
    overdue_by_direction,
    payable_label,
)
from bridge.ledger.statement import Statement

ZERO = Decimal(0)

CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", "PT Sans", Arial, sans-serif;
       font-size: 9.5pt; color: #1b1f24; margin: 0; background: #fff; }
.page { width: 186mm; margin: 0 auto; padding: 6mm 0; }
h1 { font-size: 15pt; margin: 0 0 2mm; }
h2 { font-size: 11pt; margin: 6mm 0 2mm; border-bottom: 1px solid #9aa4ad; padding-bottom: 1mm; }
.meta { display: grid; grid-template-columns: 32mm 1fr; gap: 1mm 4mm; margin: 3mm 0; }
.meta dt { color: #59636e; } .meta dd { margin: 0; font-weight: 600; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 600; background: #eef1f4; border-bottom: 1px solid #9aa4ad; }
th, td { padding: 1.3mm 1.6mm; vertical-align: top; }
td { border-bottom: 1px solid #dde2e6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
table.entries td:first-child { white-space: nowrap; }
.calc { color: #59636e; font-size: 8.5pt; }
tr.total td { font-weight: 700; background: #f7f8fa; }
tr.overdue td.num { color: #a4001d; }
.empty { color: #59636e; font-style: italic; }
.foot { margin-top: 6mm; color: #59636e; font-size: 8pt; }
"""


def to_html(statement: Statement, texts: Texts, titles: Mapping[str, str] = NO_TITLES) -> str:
    s = statement
    body = "\n".join(
        [
            f"<h1>{escape(texts['title'])}</h1>",
            _meta(s, texts),
            _summary(s, texts),
            f"<h2>{escape(texts['entries'])}</h2>",
            _entries(s, texts, titles),
            f"<h2>{escape(texts['overdue'])}</h2>",
            _overdue(s, texts, titles),
            f'<p class="foot">{escape(texts["footer"])}</p>',
        ]
    )
    title = f"{texts['title']} — {s.partner_name}, {s.period.label(texts)}"
    return (
        f'<!DOCTYPE html>\n<html lang="{texts.language}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f'<body>\n<div class="page">\n{body}\n</div>\n</body>\n</html>\n'
    )


def _meta(s: Statement, texts: Texts) -> str:
    days = f"{texts.date(s.period.start)} — {texts.date(s.period.last_day)}"
    rows = [
        (texts["partner"], s.partner_name),
        (texts["agency"], s.agency_name),
        (texts["period"], f"{s.period.label(texts)} ({days})"),
        (texts["generated"], texts.date(s.generated_at)),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows if v)
    return f'<dl class="meta">{items}</dl>'


def _summary(s: Statement, texts: Texts) -> str:
    overdue = overdue_by_direction(s)
    head = _row("th", ["", texts["opening"], texts["closing"], texts["overdue_total"]], num_from=1)
    rows = [
        _row(
            "td",
            [
                direction_label(d, texts),
                texts.money(s.opening.get(d, ZERO), d[2]),
                texts.money(s.closing.get(d, ZERO), d[2]),
                texts.money(overdue.get(d, ZERO), d[2]),
            ],
            num_from=1,
        )
        for d in s.directions
    ]
    return f"<table>\n{head}{''.join(rows)}</table>"


def _entries(s: Statement, texts: Texts, titles: Mapping[str, str]) -> str:
    if not s.lines:
        return f'<p class="empty">{escape(texts["no_entries"])}</p>'
    cols = [texts[k] for k in ("col_date", "col_deal", "col_operation", "col_payable")]
    head = _row("th", cols + [direction_label(d, texts) for d in s.directions], num_from=4)
    rows = "".join(_entry_row(e, s, texts, titles) for e in s.lines)
    return f'<table class="entries">\n{head}{rows}</table>'


def _entry_row(e: Entry, s: Statement, texts: Texts, titles: Mapping[str, str]) -> str:
    calc = calculation(e, texts)
    what = escape(operation(e, texts)) + (
        f'<br><span class="calc">{escape(calc)}</span>' if calc else ""
    )
    cells = [
        f"<td>{escape(texts.date(e.occurred_at))}</td>",
        f"<td>{escape(deal_label(e, texts, titles))}</td>",
        f"<td>{what}</td>",
        f"<td>{escape(payable_label(e, texts))}</td>",
    ]
    cells += [f'<td class="num">{escape(effect(e, d, texts))}</td>' for d in s.directions]
    return f"<tr>{''.join(cells)}</tr>\n"


def _overdue(s: Statement, texts: Texts, titles: Mapping[str, str]) -> str:
    if not s.overdue:
        return f'<p class="empty">{escape(texts["no_overdue"])}</p>'
    head = _row(
        "th",
        [
            texts["col_deal"],
            texts["col_operation"],
            texts["col_payable"],
            "",
            texts["col_outstanding"],
        ],
        num_from=4,
    )
    rows = [
        _row(
            "td",
            [
                deal_label(i.entry, texts, titles),
                operation(i.entry, texts),
                texts.date(i.entry.payable_at),
                direction_label(direction(i.entry), texts),
                texts.money(i.outstanding, i.entry.currency),
            ],
            num_from=4,
            cls="overdue",
        )
        for i in s.overdue
    ]
    return f"<table>\n{head}{''.join(rows)}</table>"


def _row(tag: str, cells: Iterable[str], *, num_from: int, cls: str = "") -> str:
    parts = []
    for index, cell in enumerate(cells):
        klass = ' class="num"' if index >= num_from else ""
        parts.append(f"<{tag}{klass}>{escape(cell)}</{tag}>")
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>{''.join(parts)}</tr>\n"
