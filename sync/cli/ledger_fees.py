"""``bridge ledger fees [--dry-run] [--date D]``: book or preview the membership fees due.

Each partner with a ``membership_fee`` owes it once per contract year, from its
``joined:`` date in mapping.yaml (else from its first sync), never before. Booking is
idempotent: running twice books once. The daemon does the same every day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bridge.ledger.entries import Entry
from sync.cli.common import DbUrlOpt, EnvFileOpt, VerboseOpt, reading, settings, writing_store
from sync.cli.errors import usage
from sync.cli.output import FormatOpt, OutputFormat, echo_json

FeesMappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", "-m", envvar="BRIDGE_MAPPING", help="mapping.yaml (partners, fees)"),
]


def fees_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be booked; book nothing")
    ] = False,
    date: Annotated[
        str | None,
        typer.Option("--date", help="Book what is due by this day, YYYY-MM-DD (default today)"),
    ] = None,
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    mapping: FeesMappingOpt = None,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Book (or preview) the membership fees due per contract year."""
    from bridge.mapping.errors import MappingInvalid
    from bridge.mapping.validate import load_mapping
    from sync.jobs.fees import book_fees

    today = _day(date) if date else None
    resolved = settings(env_file, verbose=verbose, db_url=db_url, mapping=mapping)
    try:
        spec = load_mapping(resolved.mapping_path)
    except (MappingInvalid, OSError) as exc:
        raise usage(f"{resolved.mapping_path}: {exc} (run `bridge check`)") from None
    if partner is not None and partner not in spec.partners:
        known = ", ".join(sorted(spec.partners)) or "(none)"
        raise usage(f"partner {partner!r} is not in {resolved.mapping_path}; known: {known}")
    now = dt.datetime.now(dt.UTC)
    if dry_run:
        with reading(resolved) as store:
            entries = book_fees(store, spec, now, today=today, dry_run=True, only=partner)
    else:
        with writing_store(resolved) as store:
            entries = book_fees(store, spec, now, today=today, only=partner)
    if fmt is OutputFormat.json:
        echo_json({"dry_run": dry_run, "entries": entries})
        return
    if entries:
        Console().print(fees_table(entries))
    verb = "would book" if dry_run else "booked"
    typer.echo(f"membership fees: {verb} {len(entries)}" + ("" if entries else " (none due)"))


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise usage(f"--date {text!r} is not a date — write YYYY-MM-DD") from None


def fees_table(entries: list[Entry]) -> Table:
    table = Table("partner", "contract year from", "amount", "due")
    for e in entries:
        table.add_row(
            e.partner,
            e.occurred_at.date().isoformat(),
            f"{e.amount} {e.currency}",
            e.payable_at.date().isoformat(),
        )
    return table
