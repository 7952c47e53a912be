"""``bridge ledger …``: record payouts, print statements and balances, render the example."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
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
from bridge.store.db import Store
from sync.cli import ledger_checks as checks
from sync.cli.common import DbUrlOpt, EnvFileOpt, VerboseOpt, settings, writing_store
from sync.cli.errors import CliError, open_store, usage, write_file
from sync.cli.ledger_fees import fees_command
from sync.cli.output import FormatOpt, OutputFormat, echo_json, jsonable

app = typer.Typer(
    help="The commission ledger: payouts, statements, balances.", no_args_is_help=True
)


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


def _fail(message: str) -> CliError:
    return usage(message)


def _open(db_url: str | None, env_file: Path | None = None, verbose: bool = False) -> Store:
    return open_store(settings(env_file, verbose=verbose, db_url=db_url).db_url, existing=True)


MappingOpt = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        "-m",
        envvar="BRIDGE_MAPPING",
        help="mapping.yaml naming the partners (default: ./mapping.yaml, else the ledger's)",
    ),
]


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
    yes: Annotated[
        bool, typer.Option("--yes", help="Record it even above the open balance or the ceiling")
    ] = False,
    ceiling: Annotated[
        str | None,
        typer.Option(
            envvar="BRIDGE_PAYOUT_CEILING", help="Payouts above this need --yes (e.g. 500000)"
        ),
    ] = None,
    mapping: MappingOpt = None,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Record a payment between the agency and PARTNER (a payout entry)."""
    at = _date(date) if date else _now()
    resolved = settings(env_file, verbose=verbose, db_url=db_url)
    with writing_store(resolved) as store, store.transaction() as session:
        every = book.read(session)
        allowed = checks.check_partner(partner, checks.programmes(mapping, every))
        code = checks.check_currency(currency, allowed, partner)
        money = Money(checks.parse_amount(amount, code), code)
        limit = checks.parse_amount(ceiling, code) if ceiling else None
        entries = [e for e in every if e.partner == partner]
        side = payer or _sole_debtor(entries, partner, money.currency)
        reference = ref or f"{side.value}:{at.isoformat()}:{money.amount}"
        payout = payout_entry(partner, money, payer=side, at=at, ref=reference)
        if not any(e.key == payout.key for e in entries):
            balance = checks.open_balance(entries, partner, side, code)
            checks.confirm_size(money.amount, balance, limit, currency=code, yes=yes)
        added = book.append(session, [payout], _now())
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
        typer.Option(help="mapping.yaml: partner name and language (default: BRIDGE_MAPPING)"),
    ] = None,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """PARTNER's statement: opening balance, the period's entries, closing balance, overdue."""
    resolved = settings(env_file, verbose=verbose, db_url=db_url, mapping=mapping)
    # The configured mapping is optional here: used when it exists and names the partner;
    # a mapping given with --mapping must be readable and name it.
    path, strict = resolved.mapping_path, mapping is not None
    known = _from_mapping(path, partner, strict=strict) if strict or path.is_file() else None
    known_name, known_lang, texts = known or (None, None, {})
    now = _now()
    try:
        chosen = Period.parse(period) if period else Period.containing(now.date())
    except ValueError as exc:
        raise _fail(f"--period {period!r}: {exc}") from None
    store = open_store(resolved.db_url, existing=True)
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
    path: Path, partner: str, *, strict: bool = True
) -> tuple[str | None, str | None, Mapping[str, Mapping[str, str]]] | None:
    """The partner's display name, statement language and ``texts:`` from mapping.yaml.

    Not ``strict``: None when the file cannot be read or does not name the partner.
    """
    from bridge.mapping.errors import MappingInvalid
    from bridge.mapping.validate import load_mapping

    try:
        spec = load_mapping(path)
    except (MappingInvalid, OSError) as exc:
        if not strict:
            return None
        raise _fail(f"{path}: {exc} (run `bridge check` for every problem)") from None
    found = spec.partners.get(partner)
    if found is None:
        if not strict:
            return None
        known = ", ".join(sorted(spec.partners)) or "(none)"
        raise _fail(f"partner {partner!r} is not in {path}; known partners: {known}")
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
        write_file(out, text, "statement")
        typer.echo(f"wrote {out}")


def _pdf(html: str, out: Path | None) -> None:
    from bridge.ledger.pdf import html_to_pdf

    if out is None:
        raise _fail("--format pdf needs --out FILE")
    out.write_bytes(html_to_pdf(html))
    typer.echo(f"wrote {out}")


@app.command("balances")
def balances_command(
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Every partner's balance and overdue amount, per direction and currency."""
    now = _now()
    store = _open(db_url, env_file, verbose)
    try:
        with store.transaction() as session:
            entries = book.read(session)
    finally:
        store.close()
    rows = balances(entries, now)
    if fmt is OutputFormat.json:
        echo_json([{**jsonable(b), "balance": str(b.balance)} for b in rows])
    else:
        Console().print(balances_table(rows))


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


class EntriesFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


def _period(text: str | None) -> Period | None:
    try:
        return Period.parse(text) if text else None
    except ValueError as exc:
        raise _fail(f"--period {text!r}: {exc}") from None


def _rows(store: Store, partner: str | None, period: Period | None) -> list[tuple[int, Entry]]:
    try:
        with store.transaction() as session:
            if partner is not None and partner not in book.partners(session):
                known = ", ".join(book.partners(session)) or "(none yet)"
                raise _fail(f"--partner {partner!r} has no ledger entries; partners: {known}")
            return book.read_with_ids(
                session,
                partner=partner,
                since=period.start_at if period else None,
                until=period.end_at if period else None,
            )
    finally:
        store.close()


@app.command("entries")
def entries_command(
    partner: Annotated[str | None, typer.Option(help="Only this partner")] = None,
    period: Annotated[str | None, typer.Option(help="2026-11, 2026-Q4 or 2026")] = None,
    fmt: Annotated[EntriesFormat, typer.Option("--format")] = EntriesFormat.table,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Booked entries with their ids (what `bridge ledger void` takes), oldest first."""
    from sync.cli import ledger_entries as listing

    chosen = _period(period)
    rows = _rows(_open(db_url, env_file, verbose), partner, chosen)
    if fmt is EntriesFormat.json:
        echo_json(listing.as_dicts(rows))
    elif fmt is EntriesFormat.csv:
        typer.echo(listing.to_csv(rows), nl=False)
    else:
        title = f"ledger entries: {len(rows)}" + (f" · {period}" if period else "")
        Console().print(listing.table(rows, title))


@app.command("export")
def export_command(
    period: Annotated[str, typer.Option(help="2026-11, 2026-Q4 or 2026")],
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.csv,
    out: Annotated[Path | None, typer.Option(help="File to write (xlsx needs it)")] = None,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Every partner's entries of a period, for the accountant (CSV or an Excel workbook)."""
    from sync.cli import ledger_entries as listing

    chosen = _period(period)
    typer.echo(
        listing.export(
            _rows(_open(db_url, env_file, verbose), None, chosen),
            fmt.value,
            out,
            f"ledger {period}",
        )
    )


@app.command("void")
def void_command(
    entry_id: Annotated[int, typer.Argument(help="Entry id (bridge ledger entries)", min=1)],
    reason: Annotated[str, typer.Option(help="Why; shown in the statement")],
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Cancel a mistaken entry by appending its opposite (nothing is deleted)."""
    from sync.cli import ledger_entries as listing

    resolved = settings(env_file, verbose=verbose, db_url=db_url)
    with writing_store(resolved) as store:
        voided, cancel, added = listing.void(store, entry_id, reason, _now())
    if not added:
        typer.echo(f"entry {voided} was already voided; nothing changed")
        return
    money = Texts("ru").money(cancel.amount, cancel.currency)
    typer.echo(f"voided entry {voided} of {cancel.partner}: booked {money} ({cancel.ref})")


app.command("fees")(fees_command)


@app.command("payouts")
def payouts_command(
    date: Annotated[
        str | None, typer.Option(help="Run day YYYY-MM-DD (default today, UTC)")
    ] = None,
    export: Annotated[
        tuple[ExportFormat, Path] | None,
        typer.Option(help="Write the payment registry: --export csv|xlsx PATH"),
    ] = None,
    record: Annotated[
        str | None,
        typer.Option(help="Book run RUN_ID (as listed) as payouts; a second time is a no-op"),
    ] = None,
    mapping: MappingOpt = None,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """The payout run: what is due per partner on a run day, netted where the mapping allows."""
    from sync.cli import ledger_payouts as runs

    # The command line is checked before mapping.yaml is read: a mistyped --date is named
    # as such, not buried under the mapping's own problems.
    if record is not None and (date is not None or export is not None):
        raise _fail("--record RUN_ID takes the day from the run id; drop --date and --export")
    day = _date(date).date() if date else _now().date()
    resolved = settings(env_file, verbose=verbose, db_url=db_url, mapping=mapping)
    schedules, legal = runs.programme(resolved.mapping_path)
    if record is not None:
        with writing_store(resolved) as store:
            run, added = runs.record(store, schedules, record, _now())
        if not added:
            typer.echo(f"run {record} is already recorded; nothing changed")
            return
        lines = len(run.payable)
        typer.echo(f"run {record} recorded: {added} payout entries for {lines} lines")
        return
    store = open_store(resolved.db_url, existing=True)
    try:
        run = runs.current_run(store, schedules, day)
    finally:
        store.close()
    if export is not None:
        kind, path = export
        runs.export(runs.registry_rows(run, legal), kind.value, path, f"payouts {run.run_id}")
        missing = runs.missing_legal(run, legal)
        typer.echo(f"wrote {path} (run {run.run_id}, {len(run.payable)} lines)")
        if missing:
            typer.echo(f"warning: no legal: details in the mapping for {', '.join(missing)}")
        return
    if fmt is OutputFormat.json:
        echo_json(
            {
                "run_id": run.run_id,
                "day": run.day.isoformat(),
                "lines": [{**jsonable(line), "note": runs.note(line)} for line in run.lines],
                "skipped": [{"partner": p, "why": why} for p, why in run.skipped],
            }
        )
        return
    if run.lines:
        Console().print(runs.table(run))
    for partner, why in run.skipped:
        typer.echo(f"not in this run: {partner} — {why}")
    if run.payable:
        typer.echo(
            f"RUN_ID {run.run_id} — book it with: bridge ledger payouts --record {run.run_id}"
        )
    else:
        typer.echo("nothing to pay in this run")
