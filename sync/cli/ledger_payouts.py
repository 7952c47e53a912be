"""``bridge ledger payouts``: list a payout run, export its registry, record it once.

The schedules and legal details come from mapping.yaml (``payouts:``, ``legal:``);
open payout requests from the partner cabinet join the run. Recording books one
payout entry per paying side and currency (cause ``payout:run:<id>:…``), closes
the requests of the partners paid, and is a no-op the second time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from rich.table import Table

from bridge.cabinet import requests as payout_requests
from bridge.ledger import book
from bridge.ledger.locale import Texts
from bridge.ledger.payouts import Run, RunLine, build_run, purpose, recorded, run_day, run_entries
from bridge.mapping.compiled import Legal, PayoutSchedule, Side
from bridge.store.db import Store
from sync.cli.errors import CliError, usage, write_file

REGISTRY = (
    "run_id", "partner", "legal_name", "inn", "kpp", "bank", "bic", "account",
    "correspondent_account", "payer", "payee", "amount", "currency", "purpose",
    "period_start", "period_end",
)  # fmt: skip


def programme(path: Path) -> tuple[dict[str, PayoutSchedule | None], dict[str, Legal | None]]:
    """Schedules and legal details per partner code, from a valid mapping.yaml."""
    from bridge.mapping.errors import MappingInvalid
    from bridge.mapping.validate import load_mapping

    try:
        spec = load_mapping(path)
    except (MappingInvalid, OSError) as exc:
        raise CliError(f"{path}: {exc} (run `bridge check --offline` for every problem)") from None
    schedules = {code: p.payouts for code, p in spec.partners.items()}
    legal = {code: p.legal for code, p in spec.partners.items()}
    return schedules, legal


def open_requests(store: Store) -> dict[str, dict[str, Decimal]]:
    out: dict[str, dict[str, Decimal]] = {}
    with store.transaction() as session:
        for row in payout_requests.listing(session, open_only=True):
            mine = out.setdefault(row.partner_code, {})
            mine[row.currency] = mine.get(row.currency, Decimal(0)) + row.amount
    return out


def current_run(store: Store, schedules: Mapping[str, PayoutSchedule | None], day: dt.date) -> Run:
    requests = open_requests(store)
    with store.transaction() as session:
        entries = book.read(session)
    return build_run(entries, schedules, day, requests)


def table(run: Run) -> Table:
    texts = Texts("ru")
    out = Table(title=f"payout run {run.run_id} · {run.day.isoformat()}")
    for column in ("partner", "who pays", "amount", "agency owes", "partner owes", "note"):
        right = "owe" in column or column == "amount"
        out.add_column(column, justify="right" if right else "left", no_wrap=column != "note")
    for line in run.lines:
        out.add_row(
            line.partner,
            _direction(line),
            texts.money(line.amount, line.currency),
            texts.money(line.agency_owes, line.currency),
            texts.money(line.partner_owes, line.currency),
            note(line),
        )
    return out


def _direction(line: RunLine) -> str:
    arrow = "agency → partner" if line.payer is Side.AGENCY else "partner → agency"
    return f"{arrow} (net)" if line.netted else arrow


def note(line: RunLine) -> str:
    count = len(line.items)
    items = f"{count} item" if count == 1 else f"{count} items"
    parts = [f"{line.period_start:%Y-%m-%d}…{line.period_end:%Y-%m-%d}", items]
    if line.deadline is not None:
        parts.append(
            f"due by {line.deadline:%Y-%m-%d %H:%M} UTC" + (" — LATE" if line.late else "")
        )
    if line.requested is not None:
        parts.append(f"requested in cabinet: {line.requested:f}")
    if line.carried:
        parts.append("below minimum: carried to the next run")
    return "; ".join(parts)


def registry_rows(run: Run, legal: Mapping[str, Legal | None]) -> list[list[object]]:
    """One row per payable line; the partner's legal details from mapping.yaml."""
    rows: list[list[object]] = []
    for line in run.payable:
        if line.amount == 0:
            continue  # fully netted: nothing moves, only recorded
        details = legal.get(line.partner) or Legal(name="")
        rows.append(
            [
                run.run_id,
                line.partner,
                details.name,
                details.inn or "",
                details.kpp or "",
                details.bank or "",
                details.bic or "",
                details.account or "",
                details.correspondent_account or "",
                line.payer.value,
                "partner" if line.payer is Side.AGENCY else "agency",
                line.amount,
                line.currency,
                purpose(line, run.run_id),
                line.period_start.isoformat(),
                line.period_end.isoformat(),
            ]
        )
    return rows


def missing_legal(run: Run, legal: Mapping[str, Legal | None]) -> list[str]:
    return sorted({ln.partner for ln in run.payable if legal.get(ln.partner) is None})


def export(rows: Sequence[list[object]], fmt: str, out: Path, title: str) -> None:
    if fmt == "xlsx":
        _xlsx(rows, out, title)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REGISTRY)
    writer.writerows(rows)
    write_file(out, buffer.getvalue(), "registry")


def _xlsx(rows: Sequence[list[object]], out: Path, title: str) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    if sheet is None:  # a new workbook always has one sheet; this satisfies the type
        sheet = workbook.create_sheet()
    sheet.title = title[:31]
    sheet.append(list(REGISTRY))
    for row in rows:
        sheet.append(row)  # amounts stay Decimal: openpyxl writes them as numbers
    sheet.freeze_panes = "A2"
    try:
        workbook.save(out)
    except OSError as exc:
        raise CliError(f"cannot write the registry {out}: {exc.strerror}") from None


def record(
    store: Store,
    schedules: Mapping[str, PayoutSchedule | None],
    run_id: str,
    now: dt.datetime,
) -> tuple[Run, int]:
    """Book run ``run_id``; (the run, entries booked — 0 when it was recorded before)."""
    try:
        day = run_day(run_id)
    except ValueError as exc:
        raise usage(str(exc)) from None
    with store.transaction() as session:
        if recorded(book.read(session, deal_id=""), run_id):
            return Run(day, ()), 0
    run = current_run(store, schedules, day)
    if run.run_id != run_id:
        raise CliError(
            f"the run of {day.isoformat()} is now {run.run_id}, not {run_id}: the ledger or the "
            f"requests changed since it was listed — list it again with "
            f"`bridge ledger payouts --date {day.isoformat()}`"
        )
    at = min(now, dt.datetime.combine(day, dt.time(23, 59, 59), dt.UTC))
    booked = run_entries(run, at)
    paid = {line.partner for line in run.payable}
    with store.transaction() as session:
        added = book.append(session, booked, now)
        for row in payout_requests.listing(session, open_only=True):
            if row.partner_code in paid:
                payout_requests.close(session, row, f"run:{run_id}", now)
    return run, added
