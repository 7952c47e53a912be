"""The ``bridge`` command line."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bridge import __version__
from sync.cli.cabinet import app as cabinet_app
from sync.cli.channels import app as channels_app
from sync.cli.common import (
    DbUrlOpt,
    EnvFileOpt,
    MappingOpt,
    VerboseOpt,
    reading,
    settings,
    writing,
    writing_store,
)
from sync.cli.errors import BoundaryGroup, open_store, usage
from sync.cli.leads import app as leads_app
from sync.cli.ledger import app as ledger_app
from sync.cli.output import FormatOpt, OutputFormat, echo_json, jsonable
from sync.cli.rates import app as rates_app
from sync.cli.sandbox import app as sandbox_app
from sync.runtime.settings import Resolved

app = typer.Typer(
    help="partner-bridge: mirror partner deals between Bitrix24 and partner CRMs.",
    no_args_is_help=True,
    add_completion=False,
    cls=BoundaryGroup,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(ledger_app, name="ledger")
app.add_typer(channels_app, name="channels")
app.add_typer(leads_app, name="leads")
app.add_typer(cabinet_app, name="cabinet")
app.add_typer(rates_app, name="rates")


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    from bridge.logs import configure_logging
    from bridge.memory import limit_allocator
    from sync.cli.common import set_verbose

    # Before any thread starts: the lanes' threads share two C allocator arenas.
    try:
        limit_allocator()
    except ValueError as exc:  # a bad BRIDGE_MALLOC_ARENAS: one line, exit 2
        raise usage(str(exc)) from None
    # One redacting handler for every logger; fast-bitrix24 held at WARNING (it logs URLs).
    configure_logging(verbose=verbose)
    set_verbose(verbose)


@app.command()
def run(env_file: EnvFileOpt = None, verbose: VerboseOpt = False) -> None:
    """Run the daemon: webhooks, polling, reconcile, digests, until SIGTERM/SIGINT.

    On PostgreSQL it also runs a worker of the shared job queue (see ``bridge worker``).
    """
    import signal

    from sync.runtime.daemon import Daemon, StartupFailed
    from sync.runtime.single import AlreadyRunning

    resolved = settings(env_file, verbose=verbose)
    try:
        daemon = Daemon(resolved.settings).start()
    except (StartupFailed, AlreadyRunning) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: daemon.request_stop())
    try:
        daemon.wait()
    finally:
        daemon.stop()
    if daemon.exit_message:
        typer.echo(f"error: {daemon.exit_message}", err=True)
        raise typer.Exit(1)


@app.command()
def worker(env_file: EnvFileOpt = None, verbose: VerboseOpt = False) -> None:
    """Run a queue worker only (PostgreSQL): sync passes, reconcile, digests; no HTTP app.

    Start as many as you like on any machine with the same settings; ``bridge run``
    serves the webhooks and works too.
    """
    import signal

    from sync.runtime.daemon import Daemon, DaemonOptions, StartupFailed
    from sync.runtime.distributed import scale_out
    from sync.runtime.settings import display_url

    resolved = settings(env_file, verbose=verbose)
    if not scale_out(resolved.db_url):
        typer.echo(
            f"error: bridge worker needs a PostgreSQL BRIDGE_DB_URL, not "
            f"{display_url(resolved.db_url)}; on SQLite `bridge run` does all the work",
            err=True,
        )
        raise typer.Exit(2)
    try:
        daemon = Daemon(resolved.settings, options=DaemonOptions(serve_http=False)).start()
    except StartupFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: daemon.request_stop())
    try:
        daemon.wait()
    finally:
        daemon.stop()
    if daemon.exit_message:
        typer.echo(f"error: {daemon.exit_message}", err=True)
        raise typer.Exit(1)


hooks_app = typer.Typer(help="Register and inspect the CRMs' webhooks.", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")
PublicUrlOpt = Annotated[
    str | None,
    typer.Option("--public-url", envvar="BRIDGE_PUBLIC_URL", help="The bridge's public base URL"),
]


@hooks_app.command("install")
def hooks_install(
    mapping: MappingOpt = None,
    public_url: PublicUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Register the bridge with every partner amoCRM; print the Bitrix24 webhook settings."""
    from rich.console import Console

    from sync.cli.hooks import run_install

    resolved = settings(env_file, verbose=verbose, mapping=mapping)
    public_url = public_url or resolved.settings.public_url

    if not public_url:
        typer.echo("error: set BRIDGE_PUBLIC_URL or pass --public-url", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_install(resolved.mapping_path, public_url, Console(), resolved.db_url))


@hooks_app.command("status")
def hooks_status(
    mapping: MappingOpt = None,
    db_url: DbUrlOpt = None,
    public_url: PublicUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Which hooks are registered, when each last delivered, which went quiet."""
    from rich.console import Console

    from sync.cli.hooks import run_status

    resolved = settings(env_file, verbose=verbose, db_url=db_url, mapping=mapping)
    store = open_store(resolved.db_url, existing=True)
    try:
        public_url = public_url or resolved.settings.public_url
        raise typer.Exit(run_status(resolved.mapping_path, store, public_url, Console()))
    finally:
        store.close()


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep running after the story (console, cabinet)")
    ] = False,
    screenshots: Annotated[
        Path | None, typer.Option(help="Photograph the console and cabinet into this folder")
    ] = None,
) -> None:
    """Run the whole bridge against built-in sandbox CRMs and play a short story, no credentials."""
    from sync.cli.demo import run_demo

    raise typer.Exit(run_demo(keep=keep, screenshots=screenshots))


auth_app = typer.Typer(help="Connect the bridge to a partner's CRM account.", no_args_is_help=True)
app.add_typer(auth_app, name="auth")


@auth_app.command("amocrm")
def auth_amocrm(
    partner: Annotated[str, typer.Argument(help="Partner code (names the stored tokens)")],
    base_url: Annotated[
        str, typer.Option(envvar="BRIDGE_AMOCRM_BASE_URL", help="https://SUBDOMAIN.amocrm.ru")
    ],
    client_id: Annotated[str, typer.Option(envvar="BRIDGE_AMOCRM_CLIENT_ID")],
    client_secret: Annotated[str, typer.Option(envvar="BRIDGE_AMOCRM_CLIENT_SECRET")],
    redirect_uri: Annotated[str, typer.Option(envvar="BRIDGE_AMOCRM_REDIRECT_URI")],
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    code: Annotated[
        str | None, typer.Option(help="Authorization code from the redirect (else asked for)")
    ] = None,
    consent_base: Annotated[
        str | None, typer.Option(help="Consent page host, e.g. https://www.amocrm.ru")
    ] = None,
) -> None:
    """Grant the bridge access to a partner's amoCRM account and store its OAuth tokens."""
    from bridge.amocrm.oauth import OAuthApp
    from bridge.amocrm.onboarding import run_auth
    from bridge.crm import CrmError
    from bridge.secrets import Secret
    from sync.cli.errors import usage

    for option, url in (("--base-url", base_url), ("--redirect-uri", redirect_uri)):
        if not url.startswith(("https://", "http://")):
            raise usage(f"{option} {url!r} is not a URL; write it as https://host/...")
    resolved = settings(env_file, verbose=verbose, db_url=db_url)
    oauth_app = OAuthApp(partner, base_url, client_id, Secret(client_secret), redirect_uri)
    try:
        run_auth(
            oauth_app,
            db_url=resolved.db_url,
            code=code,
            echo=typer.echo,
            ask=lambda text: str(typer.prompt(text)),
            consent_base=consent_base,
        )
    except CrmError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def check(
    mapping: MappingOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Validate the file and environment only")
    ] = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Create the bridge's stamp fields where missing")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail (exit 1) on hand-overs foreseen to park too"),
    ] = False,
) -> None:
    """Validate mapping.yaml, resolve every name against the live CRMs, and foresee parks."""
    import functools

    from bridge.mapping.connect import open_crm
    from sync.cli.check import run_check

    resolved = settings(env_file, verbose=verbose, mapping=mapping)
    # OAuth partners read their tokens from the configured store, not a default one.
    opener = functools.partial(open_crm, db_url=resolved.db_url)
    code = run_check(
        resolved.mapping_path,
        offline=offline,
        fix=fix,
        strict=strict,
        opener=opener,
        db_url=resolved.db_url,
    )
    raise typer.Exit(code)


# --- sync engine commands (logic in sync/cli/passes.py; imported lazily so bridge stays
# --- importable without sync, and the CLI starts fast) ------------------------------


@app.command("sync")
def sync_command(
    mapping: MappingOpt = None,
    db_url: DbUrlOpt = None,
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan, print, write nothing")] = False,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run one sync pass now: changes → plan → bulk writes → store."""
    from rich.console import Console

    from sync.cli.errors import CliError
    from sync.cli.passes import SetupFailed, UnknownPartner, run_sync

    resolved = settings(env_file, verbose=verbose, db_url=db_url, mapping=mapping)
    if not dry_run and _handed_to_workers(resolved.db_url, partner):
        raise typer.Exit(0)
    # A dry run writes nothing, so it does not take the lock.
    # A dry run may come first of all: it plans against a new, empty store.
    with reading(resolved, existing=False) if dry_run else writing_store(resolved) as store:
        try:
            report = run_sync(
                resolved.mapping_path, store, Console(), partner=partner, dry_run=dry_run
            )
        except SetupFailed as exc:
            raise CliError(str(exc), 2 if isinstance(exc, UnknownPartner) else 1) from None
    raise typer.Exit(1 if report.errors else 0)


def _handed_to_workers(db_url: str, partner: str | None) -> bool:
    """On PostgreSQL with live workers, queue a polling pass for them instead of racing them."""
    from sync.runtime.distributed import PASS_LANE, scale_out
    from sync.runtime.queue import QueueRunner, live_workers

    if not scale_out(db_url):
        return False
    workers = live_workers(db_url)
    if not workers:
        return False
    from sync.runtime.runner import EmbeddedRunner

    runner = QueueRunner(db_url, {}, EmbeddedRunner(1))
    try:
        queued = runner.defer("pass:poll", PASS_LANE)
    finally:
        runner.shutdown()
    scope = "every partner" if partner is None else f"every partner, {partner} included"
    state = "queued" if queued else "already queued"
    typer.echo(f"{workers} bridge worker(s) share this store: a pass over {scope} is {state}")
    return True


def _announce_queue(db_url: str) -> None:
    from sync.runtime.distributed import scale_out
    from sync.runtime.queue import live_workers

    if scale_out(db_url):
        typer.echo(f"queue: {live_workers(db_url)} live worker(s) on this database")


@app.command("status")
def status_command(
    db_url: DbUrlOpt = None,
    mapping: MappingOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Which store and mapping; per partner: links by state, last sync, lag, and its state now."""
    from rich.console import Console

    from sync.cli.passes import show_status
    from sync.cli.views import status_data

    table = fmt is not OutputFormat.json
    resolved = settings(env_file, verbose=verbose, db_url=db_url, mapping=mapping, announce=table)
    with reading(resolved) as store:
        if table:
            _announce_queue(resolved.db_url)
        if fmt is OutputFormat.json:
            echo_json(status_data(store, resolved.mapping_path))
        else:
            show_status(store, Console(), resolved.mapping_path)


@app.command("deal")
def deal_command(
    agency_id: Annotated[str, typer.Argument(help="Agency deal id")],
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Both sides' values of an agency deal's links, and its audit trail."""
    from rich.console import Console

    from sync.cli.errors import CliError
    from sync.cli.passes import show_deal
    from sync.cli.views import deal_data

    with reading(settings(env_file, verbose=verbose, db_url=db_url)) as store:
        if fmt is OutputFormat.json:
            data = deal_data(store, agency_id)
            found = data is not None
            if found:
                echo_json(data)
        else:
            found = show_deal(store, agency_id, Console())
    if not found:
        raise CliError(f"agency deal {agency_id!r} has no links and no audit entries")


@app.command("parked")
def parked_command(
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Parked links with the reason each one waits for."""
    from rich.console import Console

    from sync.cli.passes import show_parked
    from sync.cli.views import parked_data

    with reading(settings(env_file, verbose=verbose, db_url=db_url)) as store:
        if fmt is OutputFormat.json:
            echo_json(parked_data(store))
        else:
            show_parked(store, Console())


@app.command("retry")
def retry_command(
    link_id: Annotated[int | None, typer.Argument(help="Parked link id (bridge parked)")] = None,
    all_parked: Annotated[bool, typer.Option("--all", help="Every parked link")] = False,
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm",
            help="The paid value this link was parked for is right: book it (one link ID only)",
        ),
    ] = False,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Queue parked links for the next pass (after you fixed what they wait for)."""
    from sync.cli.errors import CliError, usage
    from sync.cli.passes import queue_retry

    if (link_id is None) == (not all_parked):
        raise usage("give one link ID or --all")
    if confirm and all_parked:
        raise usage("--confirm vouches for one value: give one link ID, not --all")
    resolved = settings(env_file, verbose=verbose, db_url=db_url)
    ids = None if all_parked else [link_id or 0]
    with writing_store(resolved) as store:
        queued = queue_retry(store, ids, confirm=confirm)
    if link_id is not None and not queued:
        raise CliError(f"link {link_id} is not parked — `bridge parked` lists the parked links")
    if not queued:
        typer.echo("no parked links to queue")
        return
    typer.echo(f"queued {len(queued)} parked link(s) for the next pass: {_ids(queued)}")


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids[:20]) + (" …" if len(ids) > 20 else "")


@app.command()
def init(
    partner: Annotated[
        list[str],
        typer.Option(
            "--partner",
            "-p",
            help="CODE:amocrm (reads CODE_AMO_URL, CODE_AMO_TOKEN) or CODE:bitrix24 "
            "(reads CODE_B24_WEBHOOK); repeat per partner",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("mapping.yaml"),
    webhook_env: Annotated[
        str, typer.Option(help="Variable holding the agency's webhook URL")
    ] = "AGENCY_B24_WEBHOOK",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """Write a starter mapping.yaml and .env.example from the live agency portal and partners."""
    from sync.cli.init import run_init

    raise typer.Exit(run_init(output, partner, webhook_env=webhook_env, force=force))


# --- reports: partner KPIs and the stale-deal digest (logic in bridge/kpi, bridge/digest) ---


class KpiFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class GroupBy(StrEnum):
    segment = "segment"
    manager = "manager"
    grade = "grade"


@app.command("kpi")
def kpi_command(
    period: Annotated[
        str | None, typer.Option("--period", help="2026-11, 2026-Q4 or 2026 (default: all time)")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the monthly chart here (SVG)")
    ] = None,
    mapping: MappingOpt = None,
    db_url: DbUrlOpt = None,
    language: Annotated[str, typer.Option("--lang", help="ru or en")] = "ru",
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency",
            help="Only this currency (default: the programme's — mapping.yaml's agency "
            "currency — then every other currency found)",
        ),
    ] = None,
    rank: Annotated[
        str | None,
        typer.Option(
            "--rank-by",
            help="Rank partners by a KPI: handed, active, won, lost, conversion, won_amount, "
            "average_deal, reaction, days_since_update, stale, commission, payments",
        ),
    ] = None,
    by: Annotated[
        GroupBy | None, typer.Option("--by", help="One row per segment, manager or grade")
    ] = None,
    declines: Annotated[
        bool,
        typer.Option(
            "--declines", help="Partners whose activity fell against their own past (alerts)"
        ),
    ] = False,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: Annotated[
        KpiFormat, typer.Option("--format", help="table for people, csv or json for scripts")
    ] = KpiFormat.table,
) -> None:
    """Per partner: leads, won/lost, conversion, amounts, response time, stale, commission."""
    import datetime as dt

    from rich.console import Console

    from bridge.kpi.rank import RANKINGS
    from bridge.kpi.report import (
        build_reports,
        parse_period,
        print_report,
        programme_from_mapping,
    )
    from sync.cli.errors import usage, write_file

    if language not in ("ru", "en"):
        raise usage(f"--lang {language!r}: choose ru or en")
    if rank is not None and rank not in RANKINGS:
        raise usage(f"--rank-by {rank!r}: choose one of {', '.join(RANKINGS)}")
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise usage(f"--currency {currency!r}: write a three-letter code, e.g. RUB")
    try:
        chosen = parse_period(period)
    except ValueError as exc:
        raise usage(f"--period {period!r}: {exc}") from None
    resolved = settings(env_file, verbose=verbose, db_url=db_url, mapping=mapping)
    if declines:
        _kpi_declines(
            resolved, language, OutputFormat.json if fmt is KpiFormat.json else OutputFormat.table
        )
        return
    store = open_store(resolved.db_url, existing=True)
    try:
        reports = build_reports(
            store,
            dt.datetime.now(dt.UTC),
            period=chosen,
            programme=programme_from_mapping(resolved.mapping_path),
            currency=currency.upper() if currency else None,
            language=language,
            rank=rank,
            by=by.value if by else None,
        )
    finally:
        store.close()
    if chart is not None:
        write_file(chart, reports[0].chart, "chart")
    if fmt is KpiFormat.json:
        main = reports[0]
        sections = [
            {"currency": r.currency, "kpis": r.kpis, "board": r.board, "ranked": r.ranked}
            for r in reports
        ]
        echo_json(
            {
                "currency": main.currency,
                "by": main.by,
                "rank_by": main.rank_by,
                "kpis": main.kpis,
                "board": main.board,
                "ranked": main.ranked,
                "currencies": sections,
                "chart": chart,
            }
        )
    elif fmt is KpiFormat.csv:
        from bridge.kpi.export import to_csv

        typer.echo(to_csv(reports), nl=False)
    else:
        console = Console()
        for report in reports:
            print_report(report, console, language)
    if chart is not None and fmt is KpiFormat.table:
        typer.echo(f"chart: {chart}")


def _kpi_declines(resolved: Resolved, language: str, fmt: OutputFormat) -> None:
    import datetime as dt

    from sync.cli.declines import as_json, build, print_declines
    from sync.cli.digest import DigestFailed
    from sync.cli.errors import usage

    store = open_store(resolved.db_url, existing=True)
    try:
        report = build(resolved.mapping_path, store, dt.datetime.now(dt.UTC))
    except DigestFailed as exc:
        raise usage(str(exc)) from None
    finally:
        store.close()
    if fmt is OutputFormat.json:
        echo_json(as_json(report))
    else:
        print_declines(report, language, typer.echo)


@app.command("digest")
def digest_command(
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    post_notes: Annotated[
        bool, typer.Option("--post-notes", help="Ask partners for status updates (once a week)")
    ] = False,
    by: Annotated[
        GroupBy | None,
        typer.Option("--by", help="One section per segment, manager or grade"),
    ] = None,
    manager: Annotated[
        str | None, typer.Option("--manager", help="Only this manager's partners")
    ] = None,
    mapping: MappingOpt = None,
    db_url: DbUrlOpt = None,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Stale deals, deals without a stage change and what the agency waits for, per partner."""
    from contextlib import nullcontext

    resolved = settings(env_file, verbose=verbose, db_url=db_url, mapping=mapping)
    chosen = GroupBy.manager if manager is not None else by
    grouping = chosen.value if chosen is not None else None
    # Posting notes records them in the store: a writing command.
    with writing(resolved) if post_notes else nullcontext():
        failed = _digest(
            resolved,
            partner=partner,
            post_notes=post_notes,
            fmt=fmt,
            by=grouping,
            group=manager,
        )
    raise typer.Exit(1 if failed else 0)


def _digest(
    resolved: Resolved,
    *,
    partner: str | None,
    post_notes: bool,
    fmt: OutputFormat,
    by: str | None = None,
    group: str | None = None,
) -> bool:
    """Print the digest; True when some status-request note could not be posted."""
    import datetime as dt

    from sync.cli.digest import DigestFailed
    from sync.cli.digest import digest_command as run
    from sync.cli.errors import usage

    store = open_store(resolved.db_url)
    try:
        report = run(
            resolved.mapping_path,
            store,
            dt.datetime.now(dt.UTC),
            partner=partner,
            post_notes=post_notes,
            echo=(lambda _line: None) if fmt is OutputFormat.json else typer.echo,
            by=by,
            group=group,
        )
    except DigestFailed as exc:
        raise usage(str(exc)) from None
    finally:
        store.close()
    if fmt is OutputFormat.json and by is not None:
        from sync.cli.digest import grouped

        echo_json({**jsonable(report), "by": by, "sections": grouped(resolved, report, by)})
    elif fmt is OutputFormat.json:
        echo_json(report)
    return any(d.notes_failed for d in report.partners)
