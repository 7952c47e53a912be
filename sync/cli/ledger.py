"""``bridge ledger …``: record payouts, print statements and balances, render the example."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bridge.ledger import book
from bridge.ledger.balances import Balance, balances, sums
from bridge.ledger.entries import Entry
from bridge.ledger.locale import Texts
from bridge.ledger.rules import payout_entry
from bridge.ledger.statement import Period, Statement, build_statement
from bridge.mapping.compiled import Side
from bridge.mapping.texts import statement_overrides
from bridge.model import Money
from bridge.store import Store

app = typer.Typer(
    help="The commission ledger: payouts, statements, balances.", no_args_is_help=True
)

DbUrl = Annotated[str, typer.Option("--db-url", envvar="BRIDGE_DB_URL", help="Database URL")]
DEFAULT_DB = "sqlite:///bridge.db"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    html = "html"
    pdf = "pdf"


class Language(StrEnum):
    ru = "ru"
    en = "en"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except InvalidOperation:
        raise _fail(f"AMOUNT {text!r} is not a number (e.g. 50000 or 50000.00)") from None
    if not value.is_finite() or value <= 0:
        raise _fail(f"AMOUNT must be positive, got {text!r}")
    return value


def _open(db_url: str) -> Store:
    return Store.open(db_url)


@app.command()
def pay(
    partner: Annotated[str, typer.Argument(help="Partner code")],
    amount: Annotated[str, typer.Argument(help="Amount paid, e.g. 150000.00")],
    currency: Annotated[str, typer.Option(help="ISO currency")] = "RUB",
    payer: Annotated[
        Side | None, typer.Option(help="Who paid; default: the only side that owes")
    ] = None,
    ref: Annotated[
        str | None, typer.Option(help="Payment reference; recording it again is a no-op")
    ] = None,
    date: Annotated[
        str | None, typer.Option(help="Payment date YYYY-MM-DD (default today)")
    ] = None,
    db_url: DbUrl = DEFAULT_DB,
) -> None:
    """Record a payment between the agency and PARTNER (a payout entry)."""
    money = Money(_amount(amount), currency.upper())
    at = _date(date) if date else _now()
    store = _open(db_url)
    try:
        with store.transaction() as session:
            entries = book.read(session, partner=partner)
            side = payer or _sole_debtor(entries, partner, money.currency)
            reference = ref or f"{side.value}:{at.isoformat()}:{money.amount}"
            added = book.append(
                session, [payout_entry(partner, money, payer=side, at=at, ref=reference)], _now()
            )
    finally:
        store.close()
    verb = "recorded" if added else "already recorded (same reference), nothing changed"
    typer.echo(f"payout {money} by {side.value} for {partner}: {verb}")


def _date(text: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(f"--date {text!r} is not YYYY-MM-DD") from None
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _sole_debtor(entries: list[Entry], partner: str, currency: str) -> Side:
    owing = [
        d[1] for d, v in sums(entries).items() if d[0] == partner and d[2] == currency and v > 0
    ]
    if len(owing) != 1:
        raise _fail(f"cannot tell who paid ({len(owing)} sides owe {currency}); pass --payer")
    return owing[0]


@app.command()
def statement(
    partner: Annotated[str, typer.Argument(help="Partner code")],
    period: Annotated[
        str | None, typer.Option(help="2026-11, 2026-Q4 or 2026 (default: this month)")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format")] = Format.table,
    out: Annotated[Path | None, typer.Option(help="Write to this file (html/pdf need it)")] = None,
    lang: Annotated[
        Language | None, typer.Option(help="Language (default: the partner's, else ru)")
    ] = None,
    partner_name: Annotated[str | None, typer.Option(help="Name printed for the partner")] = None,
    agency_name: Annotated[str, typer.Option(help="Name printed for the agency")] = "",
    mapping: Annotated[
        Path | None,
        typer.Option(envvar="BRIDGE_MAPPING", help="mapping.yaml: partner name and language"),
    ] = None,
    db_url: DbUrl = DEFAULT_DB,
) -> None:
    """PARTNER's statement: opening balance, the period's entries, closing balance, overdue."""
    known_name, known_lang, texts = _from_mapping(mapping, partner) if mapping else (None, None, {})
    now = _now()
    try:
        chosen = Period.parse(period) if period else Period.containing(now.date())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    store = _open(db_url)
    try:
        with store.transaction() as session:
            entries = book.read(session, partner=partner)
    finally:
        store.close()
    name = partner_name or known_name
    built = build_statement(
        entries, partner, chosen, now, partner_name=name, agency_name=agency_name
    )
    language = lang.value if lang else known_lang or "ru"
    emit(built, Texts(language, statement_overrides(texts, language)), fmt, out)


def _from_mapping(
    path: Path, partner: str
) -> tuple[str | None, str | None, Mapping[str, Mapping[str, str]]]:
    """The partner's display name, statement language and ``texts:`` from mapping.yaml."""
    from bridge.mapping.errors import MappingInvalid
    from bridge.mapping.validate import load_mapping

    try:
        spec = load_mapping(path)
    except (MappingInvalid, OSError) as exc:
        raise _fail(f"{path}: {exc} (run `bridge check` for every problem)") from None
    found = spec.partners.get(partner)
    if found is None:
        raise _fail(f"partner {partner!r} is not in {path}; known: {sorted(spec.partners)}")
    return found.name, found.policies.language, spec.texts


def emit(
    built: Statement,
    texts: Texts,
    fmt: Format,
    out: Path | None,
    titles: dict[str, str] | None = None,
) -> None:
    """Print or write ``built`` in ``fmt``; PDF is made by WeasyPrint."""
    from bridge.ledger.html import to_html
    from bridge.ledger.render import rich_table, to_csv

    if fmt is Format.table:
        Console().print(rich_table(built, texts, titles or {}))
    elif fmt is Format.csv:
        _write(to_csv(built), out)
    elif fmt is Format.html:
        _write(to_html(built, texts, titles or {}), out)
    else:
        _pdf(to_html(built, texts, titles or {}), out)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def _pdf(html: str, out: Path | None) -> None:
    from bridge.ledger.pdf import html_to_pdf

    if out is None:
        raise _fail("--format pdf needs --out FILE")
    out.write_bytes(html_to_pdf(html))
    typer.echo(f"wrote {out}")


@app.command("balances")
def balances_command(db_url: DbUrl = DEFAULT_DB) -> None:
    """Every partner's balance and overdue amount, per direction and currency."""
    now = _now()
    store = _open(db_url)
    try:
        with store.transaction() as session:
            entries = book.read(session)
    finally:
        store.close()
    Console().print(balances_table(balances(entries, now)))


def balances_table(rows: list[Balance]) -> Table:
    texts = Texts("ru")
    table = Table(title="Balances")
    for column in ("partner", "who owes", "currency"):
        table.add_column(column)
    for column in ("charged", "paid", "balance", "overdue"):
        table.add_column(column, justify="right", no_wrap=True)
    for b in rows:
        owes = "partner → agency" if b.payer is Side.PARTNER else "agency → partner"
        money = [texts.money(v, b.currency) for v in (b.charged, b.paid, b.balance, b.overdue)]
        table.add_row(b.partner, owes, b.currency, *money)
    return table


@app.command("example-statement")
def example_statement_command(
    out: Annotated[Path, typer.Option(help="Directory to write into")] = Path("docs"),
    lang: Annotated[Language, typer.Option(help="Language of the statement")] = Language.ru,
    png: Annotated[bool, typer.Option(help="Also render a PNG (needs chromium)")] = True,
) -> None:
    """Render the example statement from the demo deals into OUT (HTML, and PNG if possible)."""
    from bridge.ledger.browser import NoBrowserError, to_png
    from bridge.ledger.example import TITLES, example_statement
    from bridge.ledger.html import to_html

    out.mkdir(parents=True, exist_ok=True)
    html = out / "statement-example.html"
    html.write_text(to_html(example_statement(), Texts(lang.value), TITLES), encoding="utf-8")
    typer.echo(f"wrote {html}")
    if png:
        try:
            to_png(html, out / "statement-example.png", width=780, height=1150)
        except NoBrowserError as exc:
            raise _fail(str(exc)) from None
        typer.echo(f"wrote {out / 'statement-example.png'}")
