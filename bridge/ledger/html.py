"""A statement as one self-contained, printable A4 HTML page (Russian by default).

Everything is inline (CSS, no scripts, no web fonts), so the file can be mailed,
opened offline and printed or turned into PDF by a headless browser. The font
stack names fonts with full Cyrillic coverage that ship with common systems.

The page is the Jinja2 template ``templates/statement.html.j2`` rendered with
autoescape on, so every value is HTML-escaped; this module only turns a
:class:`~bridge.ledger.statement.Statement` into the strings the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from bridge.ledger.balances import direction
from bridge.ledger.entries import Entry
from bridge.ledger.locale import Texts
from bridge.ledger.render import (
    NO_TITLES,
    calculation,
    conversion,
    deal_label,
    direction_label,
    effect,
    operation,
    overdue_by_direction,
    payable_label,
)
from bridge.ledger.statement import Statement

ZERO = Decimal(0)
TEMPLATE = "statement.html.j2"
WORDS = ("title", "entries", "overdue", "no_entries", "no_overdue", "footer")


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One line of the entries table, as shown: ``effects`` has one cell per direction."""

    date: str
    deal: str
    operation: str
    calc: str
    payable: str
    effects: tuple[str, ...]
    fx: str = ""  # both amounts and the rate, for a converted base (render.conversion)


@cache
def _template() -> Template:
    env = Environment(
        loader=PackageLoader("bridge.ledger", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template(TEMPLATE)


def to_html(statement: Statement, texts: Texts, titles: Mapping[str, str] = NO_TITLES) -> str:
    s = statement
    return _template().render(
        language=texts.language,
        title=f"{texts['title']} — {s.partner_name}, {s.period.label(texts)}",
        words={key: texts[key] for key in WORDS},
        meta=_meta(s, texts),
        summary_head=["", texts["opening"], texts["closing"], texts["overdue_total"]],
        summary=_summary(s, texts),
        entries_head=[texts[k] for k in ("col_date", "col_deal", "col_operation", "col_payable")]
        + [direction_label(d, texts) for d in s.directions],
        entries=[_entry_row(e, s, texts, titles) for e in s.lines],
        overdue_head=[
            texts["col_deal"],
            texts["col_operation"],
            texts["col_payable"],
            "",
            texts["col_outstanding"],
        ],
        overdue=_overdue(s, texts, titles),
    )


def _meta(s: Statement, texts: Texts) -> list[tuple[str, str]]:
    days = f"{texts.date(s.period.start)} — {texts.date(s.period.last_day)}"
    rows = [
        (texts["partner"], s.partner_name),
        (texts["agency"], s.agency_name),
        (texts["period"], f"{s.period.label(texts)} ({days})"),
        (texts["generated"], texts.date(s.generated_at)),
    ]
    return [(k, v) for k, v in rows if v]


def _summary(s: Statement, texts: Texts) -> list[list[str]]:
    overdue = overdue_by_direction(s)
    return [
        [
            direction_label(d, texts),
            texts.money(s.opening.get(d, ZERO), d[2]),
            texts.money(s.closing.get(d, ZERO), d[2]),
            texts.money(overdue.get(d, ZERO), d[2]),
        ]
        for d in s.directions
    ]


def _entry_row(e: Entry, s: Statement, texts: Texts, titles: Mapping[str, str]) -> EntryRow:
    return EntryRow(
        date=texts.date(e.occurred_at),
        deal=deal_label(e, texts, titles),
        operation=operation(e, texts),
        calc=calculation(e, texts),
        payable=payable_label(e, texts),
        effects=tuple(effect(e, d, texts) for d in s.directions),
        fx=conversion(e, texts),
    )


def _overdue(s: Statement, texts: Texts, titles: Mapping[str, str]) -> list[list[str]]:
    return [
        [
            deal_label(i.entry, texts, titles),
            operation(i.entry, texts),
            texts.date(i.entry.payable_at),
            direction_label(direction(i.entry), texts),
            texts.money(i.outstanding, i.entry.currency),
        ]
        for i in s.overdue
    ]
