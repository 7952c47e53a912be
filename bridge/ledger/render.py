"""A statement as a Rich table and as CSV; shared cell wording for the HTML page too.

CSV is for machines: ISO dates and plain decimals, one row per opening balance,
entry, closing balance and overdue item. The other renderings take their words
and number/date formats from :class:`~bridge.ledger.locale.Texts`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rich.table import Table

from bridge.ledger.balances import Direction, direction
from bridge.ledger.entries import PARTNER_LEVEL, Entry, EntryKind
from bridge.ledger.locale import Texts
from bridge.ledger.statement import Statement
from bridge.mapping.compiled import Side

NO_TITLES: Mapping[str, str] = {}


def direction_label(d: Direction, texts: Texts) -> str:
    key = "partner_owes" if d[1] is Side.PARTNER else "agency_owes"
    return f"{texts[key]}, {d[2]}"


def operation(entry: Entry, texts: Texts) -> str:
    """``Начисление · 25 % от суммы сделки``; a payout shows its reference."""
    text = texts[f"kind_{entry.kind.value}"]
    if entry.kind is EntryKind.NOTICE and entry.ref and texts.has(f"notice_{entry.ref}"):
        return f"{text} · {texts[f'notice_{entry.ref}']}"
    rule_key = f"rule_{entry.rule.split('.')[0]}"
    if entry.rate is not None and texts.has(rule_key):
        text += f" · {texts.percent(entry.rate)} {texts[rule_key]}"
    if entry.ref:
        text += f" · {entry.ref}"
    return text


def calculation(entry: Entry, texts: Texts) -> str:
    if entry.rate is None or entry.base is None:
        return ""
    return f"{texts.percent(entry.rate)} × {texts.money(entry.base, entry.currency)}"


def conversion(entry: Entry, texts: Texts) -> str:
    """Both amounts and the rate, when the base was converted from the partner's currency:
    ``4 600 000,00 ₸ по курсу 1 USD = 460 KZT на 01.11.2026 → 10 000,00 $``; the exact
    value follows when rounding changed it (bridge.ledger.fx)."""
    fx = entry.fx
    if fx is None:
        return ""
    text = (
        f"{texts.money(fx.source.amount, fx.source.currency)} {texts['fx_at']} {fx.rate_text}"
        f" {texts['fx_on']} {texts.date(fx.effective)}"
        f" → {texts.money(fx.result.amount, fx.result.currency)}"
    )
    if fx.exact != fx.result.amount:
        text += f" ({texts['fx_exact']} {fx.exact:f})"
    return text


def deal_label(entry: Entry, texts: Texts, titles: Mapping[str, str]) -> str:
    if entry.deal_id == PARTNER_LEVEL:
        return texts["partner_level"]
    title = titles.get(entry.deal_id)
    return f"№ {entry.deal_id} · {title}" if title else f"№ {entry.deal_id}"


def payable_label(entry: Entry, texts: Texts) -> str:
    """When the entry is due; a payment is not due, it settles."""
    return "" if entry.kind is EntryKind.PAYOUT else texts.date(entry.payable_at)


def effect(entry: Entry, d: Direction, texts: Texts) -> str:
    """The entry's effect on direction ``d``'s balance, or blank if it is another's."""
    return texts.money(entry.owed, entry.currency) if direction(entry) == d else ""


def overdue_by_direction(statement: Statement) -> dict[Direction, Decimal]:
    out = {d: Decimal(0) for d in statement.directions}
    for item in statement.overdue:
        out[direction(item.entry)] = out.get(direction(item.entry), Decimal(0)) + item.outstanding
    return out


def rich_table(statement: Statement, texts: Texts, titles: Mapping[str, str] = NO_TITLES) -> Table:
    """The statement for a terminal: opening, the period's entries, closing, overdue."""
    s = statement
    table = Table(title=f"{texts['title']}: {s.partner_name}, {s.period.label(texts)}")
    for key in ("col_date", "col_deal", "col_operation", "col_calculation", "col_payable"):
        table.add_column(texts[key])
    for d in s.directions:
        table.add_column(direction_label(d, texts), justify="right", no_wrap=True)
    _total_row(table, texts["opening"], s.opening, s, texts)
    for e in s.lines:
        table.add_row(
            texts.date(e.occurred_at),
            deal_label(e, texts, titles),
            operation(e, texts),
            "\n".join(t for t in (calculation(e, texts), conversion(e, texts)) if t),
            payable_label(e, texts),
            *(effect(e, d, texts) for d in s.directions),
        )
    _total_row(table, texts["closing"], s.closing, s, texts)
    _total_row(table, texts["overdue_total"], overdue_by_direction(s), s, texts)
    return table


def _total_row(
    table: Table, label: str, values: Mapping[Direction, Decimal], s: Statement, texts: Texts
) -> None:
    amounts = (texts.money(values.get(d, Decimal(0)), d[2]) for d in s.directions)
    table.add_row(f"[bold]{label}[/bold]", "", "", "", "", *amounts)


CSV_HEADER = (
    "section", "date", "deal_id", "kind", "rule", "cause", "rate", "base",
    "amount", "currency", "payer", "payable_at", "ref",
    "fx_rate", "fx_pair", "fx_date", "fx_source", "fx_source_currency", "fx_exact",
)  # fmt: skip


def to_csv(statement: Statement) -> str:
    """One row per opening balance, entry (its effect on the balance), closing, overdue item."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    _csv_totals(writer, "opening", statement.period.start.isoformat(), statement, opening=True)
    for e in statement.lines:
        writer.writerow(("entry", *_csv_entry(e, e.owed)))
    _csv_totals(writer, "closing", statement.period.end.isoformat(), statement, opening=False)
    for item in statement.overdue:
        writer.writerow(("overdue", *_csv_entry(item.entry, item.outstanding)))
    return out.getvalue()


def _csv_totals(writer: Any, section: str, day: str, s: Statement, *, opening: bool) -> None:
    values = s.opening if opening else s.closing
    for d in s.directions:
        amount = values.get(d, Decimal(0))
        writer.writerow(
            (section, day, "", "", "", "", "", "", amount, d[2], d[1].value, "", "", *_NO_FX)
        )


def _csv_entry(e: Entry, amount: Decimal) -> tuple[object, ...]:
    return (
        e.occurred_at.date().isoformat(),
        e.deal_id,
        e.kind.value,
        e.rule,
        e.cause,
        "" if e.rate is None else e.rate,
        "" if e.base is None else e.base,
        amount,
        e.currency,
        e.payer.value,
        e.payable_at.date().isoformat(),
        e.ref or "",
        *_fx_cells(e),
    )


_NO_FX = ("",) * 6


def _fx_cells(e: Entry) -> tuple[object, ...]:
    fx = e.fx
    if fx is None:
        return _NO_FX
    pair = f"{fx.base}/{fx.quote}"
    return (fx.rate, pair, fx.effective.isoformat(), fx.source.amount, fx.source.currency, fx.exact)
