"""``bridge ledger entries``, ``export`` and ``void``: the ledger line by line, with ids.

``entries`` lists what is booked (table, CSV or JSON) with the id ``void``
needs; ``export`` gives an accountant a whole period as CSV or an Excel
workbook; ``void`` appends the opposite of a mistaken entry (see
:mod:`bridge.ledger.corrections`) — nothing is ever deleted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from bridge.ledger import book
from bridge.ledger.corrections import VoidRefused, void_of
from bridge.ledger.entries import Entry
from bridge.ledger.locale import Texts
from bridge.store.db import Store
from sync.cli.errors import CliError, usage, write_file

Row = tuple[int, Entry]
COLUMNS = (
    "id", "occurred_at", "partner", "deal_id", "kind", "rule", "cause", "rate", "base",
    "amount", "currency", "payer", "payable_at", "ref",
    "fx_rate", "fx_pair", "fx_date", "fx_source", "fx_source_currency", "fx_exact",
)  # fmt: skip


def cells(entry_id: int, e: Entry) -> list[object]:
    """One entry as export cells, amounts as Decimal (a spreadsheet keeps them numbers)."""
    return [
        entry_id,
        e.occurred_at.isoformat(),
        e.partner,
        e.deal_id,
        e.kind.value,
        e.rule,
        e.cause,
        e.rate,
        e.base,
        e.amount,
        e.currency,
        e.payer.value,
        e.payable_at.isoformat(),
        e.ref or "",
        *_fx(e),
    ]


def _fx(e: Entry) -> list[object]:
    """The conversion behind the entry's base (bridge.ledger.fx), or six blanks."""
    fx = e.fx
    if fx is None:
        return [None] * 6
    pair = f"{fx.base}/{fx.quote}"
    return [fx.rate, pair, fx.effective.isoformat(), fx.source.amount, fx.source.currency, fx.exact]


def as_dicts(rows: Sequence[Row]) -> list[dict[str, object]]:
    return [dict(zip(COLUMNS, cells(i, e), strict=True)) for i, e in rows]


def to_csv(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry_id, entry in rows:
        writer.writerow(["" if c is None else c for c in cells(entry_id, entry)])
    return out.getvalue()


def table(rows: Sequence[Row], title: str) -> Table:
    texts = Texts("ru")
    out = Table(title=title)
    for column in ("id", "date", "partner", "deal", "kind", "amount", "payer", "ref / cause"):
        out.add_column(column, justify="right" if column in ("id", "amount") else "left")
    for entry_id, e in rows:
        out.add_row(
            str(entry_id),
            e.occurred_at.strftime("%Y-%m-%d"),
            e.partner,
            e.deal_id or "—",
            e.kind.value,
            texts.money(e.amount, e.currency),
            e.payer.value,
            e.ref or e.cause,
        )
    return out


def write_xlsx(rows: Sequence[Row], out: Path, title: str) -> None:
    """One sheet, a header row, amounts as numbers with the currency in its own column."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    if sheet is None:  # a new workbook always has one sheet; this satisfies the type
        sheet = workbook.create_sheet()
    sheet.title = title[:31]
    sheet.append(list(COLUMNS))
    for entry_id, entry in rows:
        sheet.append([_xlsx_cell(c) for c in cells(entry_id, entry)])
    sheet.freeze_panes = "A2"
    try:
        workbook.save(out)
    except OSError as exc:
        raise CliError(f"cannot write the export {out}: {exc.strerror}") from None


def _xlsx_cell(value: object) -> object:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return value  # openpyxl writes Decimal as a number
    return "" if value is None else value


def export(rows: Sequence[Row], fmt: str, out: Path | None, title: str) -> str:
    """Write the export; the message to print."""
    if fmt == "xlsx":
        if out is None:
            raise usage("--format xlsx needs --out FILE.xlsx")
        write_xlsx(rows, out, title)
        return f"wrote {out} ({_count(rows)})"
    text = to_csv(rows)
    if out is None:
        return text.rstrip("\n")
    write_file(out, text, "export")
    return f"wrote {out} ({_count(rows)})"


def _count(rows: Sequence[Row]) -> str:
    return f"{len(rows)} entry" if len(rows) == 1 else f"{len(rows)} entries"


def void(store: Store, entry_id: int, reason: str, now: dt.datetime) -> tuple[int, Entry, bool]:
    """Book the void of ``entry_id``; (id, the void, whether it was new)."""
    with store.transaction() as session:
        entry = book.by_id(session, entry_id)
        if entry is None:
            raise CliError(
                f"ledger entry {entry_id} does not exist — `bridge ledger entries` lists the ids"
            )
        try:
            cancel = void_of(entry_id, entry, reason, now)
        except VoidRefused as exc:
            raise usage(str(exc)) from None
        added = book.append(session, [cancel], now)
    return entry_id, cancel, bool(added)
