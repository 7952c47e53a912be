"""``bridge channels held`` and ``bridge channels confirm``: the manager's side of a hold."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from bridge.channels.conflicts import confirm, held
from sync.cli.common import DbUrlOpt, EnvFileOpt, VerboseOpt, settings, writing_store
from sync.cli.errors import open_store
from sync.cli.output import FormatOpt, OutputFormat, echo_json

# How bridge.mapping.connect labels the agency portal (the hint inbox is keyed by it).
AGENCY_SYSTEM = "bitrix24:agency"

app = typer.Typer(
    help="Deals held because their client was already handed to another partner.",
    no_args_is_help=True,
)


@app.command("held")
def held_command(
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Deals waiting for a manager's confirmation, oldest first."""
    store = open_store(settings(env_file, verbose=verbose, db_url=db_url).db_url, existing=True)
    try:
        with store.transaction() as session:
            rows = held(session, partner)
    finally:
        store.close()
    if fmt is OutputFormat.json:
        echo_json(rows)
        return
    for row in rows:
        typer.echo(f"{row.agency_deal_id} → {row.partner_code}  ({row.flagged_at:%Y-%m-%d %H:%M})")
        for line in (row.detail or "").splitlines():
            typer.echo(f"    {line}")
    if not rows:
        typer.echo("nothing is held")


@app.command("confirm")
def confirm_command(
    agency_deal_id: Annotated[str, typer.Argument(help="Agency deal id")],
    partner: Annotated[str, typer.Argument(help="Partner code")],
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Let a held deal go to the partner; the next pass creates it."""
    resolved = settings(env_file, verbose=verbose, db_url=db_url)
    with writing_store(resolved) as store, store.transaction() as session:
        done = confirm(
            session, agency_deal_id, partner, dt.datetime.now(dt.UTC), agency_system=AGENCY_SYSTEM
        )
    if not done:
        typer.echo(f"error: deal {agency_deal_id} is not held for {partner}", err=True)
        raise typer.Exit(1)
    typer.echo(f"confirmed: deal {agency_deal_id} goes to {partner} with the next pass")
