"""``bridge rates …``: the exchange rates the admin enters, and nothing converted without one.

``bridge rates set USD RUB 92.50 --date 2026-12-01`` means 1 USD = 92.50 RUB from that
day on (docs/money.md, "Currencies"). Setting a rate queues every link parked for the
lack of it, so those deals go out on the next pass with no edit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bridge.fx.rates import Rate
from sync.cli.common import DbUrlOpt, EnvFileOpt, VerboseOpt, reading, settings, writing_store
from sync.cli.errors import usage
from sync.cli.output import FormatOpt, OutputFormat, echo_json

app = typer.Typer(help="Exchange rates entered by the admin (never fetched).", no_args_is_help=True)


def currency_code(text: str, what: str) -> str:
    """An ISO 4217 code, or a one-line refusal naming the value."""
    from babel.numbers import list_currencies

    code = text.strip().upper()
    if len(code) != 3 or code not in list_currencies():
        raise usage(f"{what} {text!r} is not an ISO 4217 currency code — write e.g. USD, RUB, KZT")
    return code


def rate_value(text: str) -> Decimal:
    """A positive decimal rate (``92.50`` or ``92,50``), or a one-line refusal."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise usage(f"RATE {text!r} is not a number — write e.g. 92.50 (1 BASE = RATE QUOTE)")
    if value <= 0:
        raise usage(f"RATE {text!r} must be positive — 1 BASE = RATE QUOTE, e.g. 92.50")
    return value


def rate_date(text: str | None, today: dt.date) -> dt.date:
    if text is None:
        return today
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise usage(f"--date {text!r} is not a date — write YYYY-MM-DD, e.g. 2026-12-01") from None


@app.command("set")
def set_rate(
    base: Annotated[str, typer.Argument(help="Currency of one unit, e.g. USD")],
    quote: Annotated[str, typer.Argument(help="Currency it is worth RATE of, e.g. RUB")],
    rate: Annotated[str, typer.Argument(help="1 BASE = RATE QUOTE, e.g. 92.50")],
    date: Annotated[
        str | None, typer.Option("--date", help="Effective from (YYYY-MM-DD); default today")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who entered it (kept with the rate)")] = "cli",
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Enter a rate: 1 BASE = RATE QUOTE from --date on; parked deals waiting for it go out."""
    from sync.rates import set_rate as keep_rate

    now = dt.datetime.now(dt.UTC)
    source, target = currency_code(base, "BASE"), currency_code(quote, "QUOTE")
    if source == target:
        raise usage(f"BASE and QUOTE are both {source} — a rate needs two currencies")
    value = Rate(source, target, rate_value(rate), rate_date(date, now.date()))
    resolved = settings(env_file, verbose=verbose, db_url=db_url)
    with writing_store(resolved) as store:
        kept, queued = keep_rate(store, value, "cli" if by == "cli" else f"cli:{by}", now)
    typer.echo(f"rate set: {kept}")
    if queued:
        ids = ", ".join(str(i) for i in queued)
        typer.echo(f"queued {len(queued)} link(s) parked for this rate: {ids}")


@app.command("list")
def list_rates(
    fmt: FormatOpt = OutputFormat.table,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Every rate entered, oldest first, with who entered it and when."""
    from bridge.fx.store import all_rates

    resolved = settings(env_file, verbose=verbose, db_url=db_url)
    with reading(resolved) as store, store.transaction() as session:
        rates = all_rates(session)
    if fmt is OutputFormat.json:
        echo_json(
            [
                {
                    "base": r.base,
                    "quote": r.quote,
                    "rate": f"{r.rate:f}",
                    "effective": r.effective.isoformat(),
                    "entered_by": r.entered_by,
                    "entered_at": r.entered_at.isoformat() if r.entered_at else None,
                }
                for r in rates
            ]
        )
        return
    if not rates:
        typer.echo("no rates yet — bridge rates set USD RUB 92.50 --date 2026-12-01")
        return
    table = Table("pair", "1 base =", "effective", "entered by", "entered at")
    for r in rates:
        at = r.entered_at.strftime("%Y-%m-%d %H:%M UTC") if r.entered_at else ""
        table.add_row(
            f"{r.base}/{r.quote}",
            f"{r.rate:f} {r.quote}",
            r.effective.isoformat(),
            r.entered_by,
            at,
        )
    Console().print(table)
