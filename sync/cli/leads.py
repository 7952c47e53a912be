"""``bridge leads`` and ``bridge leads release``: partner-registered leads, and the manager's
side of a lead held because its client is already the agency's (or another partner's)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated

import typer

from bridge.store import leads
from sync.cli.common import DbUrlOpt, EnvFileOpt, VerboseOpt, settings, writing_store
from sync.cli.errors import open_store
from sync.cli.output import FormatOpt, OutputFormat, echo_json

app = typer.Typer(
    help="Leads partners registered for the agency: passed (sourced by partner) or held.",
    invoke_without_command=True,
)


@app.callback()
def list_command(
    ctx: typer.Context,
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Every lead a partner registered, oldest first, with its agency deal or why it is held."""
    if ctx.invoked_subcommand is not None:
        return
    store = open_store(settings(env_file, verbose=verbose, db_url=db_url).db_url, existing=True)
    try:
        with store.transaction() as session:
            rows = leads.everything(session, partner)
    finally:
        store.close()
    if fmt is OutputFormat.json:
        echo_json([dataclasses.asdict(r) for r in rows])
        return
    for row in rows:
        where = f"→ agency deal {row.agency_deal_id}" if row.agency_deal_id else ""
        typer.echo(
            f"{row.partner_code} deal {row.partner_deal_id}: {row.status.value} {where}"
            f"  ({row.received_at:%Y-%m-%d %H:%M})".replace("  ", " ", 1)
        )
        if row.reason and row.status is leads.LeadStatus.HELD:
            typer.echo(f"    {row.reason}")
    if not rows:
        typer.echo("no partner-registered leads")


@app.command("release")
def release_command(
    partner: Annotated[str, typer.Argument(help="Partner code")],
    partner_deal_id: Annotated[str, typer.Argument(help="The partner's deal id")],
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Let a held lead through; the next pass creates its agency deal (unscreened)."""
    resolved = settings(env_file, verbose=verbose, db_url=db_url)
    with writing_store(resolved) as store, store.transaction() as session:
        done = leads.release(session, partner, partner_deal_id, dt.datetime.now(dt.UTC))
    if not done:
        typer.echo(f"error: lead {partner_deal_id} of {partner} is not held", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"released: lead {partner_deal_id} of {partner} reaches the agency with the next pass"
    )
