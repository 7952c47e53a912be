"""The ``bridge`` command line."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bridge import __version__
from sync.cli.cabinet import app as cabinet_app
from sync.cli.channels import app as channels_app
from sync.cli.ledger import app as ledger_app

app = typer.Typer(
    help="partner-bridge: mirror partner deals between Bitrix24 and partner CRMs.",
    no_args_is_help=True,
    add_completion=False,
)
sandbox_app = typer.Typer(help="Run a CRM emulator over HTTP on 127.0.0.1.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(ledger_app, name="ledger")
app.add_typer(channels_app, name="channels")
app.add_typer(cabinet_app, name="cabinet")


class Seed(StrEnum):
    demo = "demo"
    empty = "empty"


class Plan(StrEnum):
    standard = "standard"
    enterprise = "enterprise"


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    from bridge.logs import configure_logging

    # One redacting handler for every logger; fast-bitrix24 held at WARNING (it logs URLs).
    configure_logging(verbose=verbose)


@app.command()
def run(
    env_file: Annotated[Path, typer.Option("--env-file", help="Settings file")] = Path(".env"),
) -> None:
    """Run the daemon: webhooks, polling, reconcile, digests, until SIGTERM/SIGINT."""
    import signal

    from bridge.config import SettingsInvalid, load_settings
    from sync.runtime.daemon import Daemon, StartupFailed
    from sync.runtime.single import AlreadyRunning

    try:
        settings = load_settings(env_file)
        daemon = Daemon(settings).start()
    except (SettingsInvalid, StartupFailed, AlreadyRunning) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: daemon.request_stop())
    try:
        daemon.wait()
    finally:
        daemon.stop()


hooks_app = typer.Typer(help="Register and inspect the CRMs' webhooks.", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")
PublicUrlOpt = Annotated[
    str | None,
    typer.Option("--public-url", envvar="BRIDGE_PUBLIC_URL", help="The bridge's public base URL"),
]


@hooks_app.command("install")
def hooks_install(
    mapping: Annotated[Path, typer.Option("--mapping", "-m", envvar="BRIDGE_MAPPING")] = Path(
        "mapping.yaml"
    ),
    public_url: PublicUrlOpt = None,
) -> None:
    """Register the bridge with every partner amoCRM; print the Bitrix24 webhook settings."""
    from rich.console import Console

    from sync.cli.hooks import run_install

    if not public_url:
        typer.echo("error: set BRIDGE_PUBLIC_URL or pass --public-url", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_install(mapping, public_url, Console()))


@hooks_app.command("status")
def hooks_status(
    mapping: Annotated[Path, typer.Option("--mapping", "-m", envvar="BRIDGE_MAPPING")] = Path(
        "mapping.yaml"
    ),
    db_url: Annotated[
        str, typer.Option("--db-url", envvar="BRIDGE_DB_URL")
    ] = "sqlite:///bridge.db",
    public_url: PublicUrlOpt = None,
) -> None:
    """Which hooks are registered, when each last delivered, which went quiet."""
    from rich.console import Console

    from bridge.store import Store
    from sync.cli.hooks import run_status

    store = Store.open(db_url)
    try:
        raise typer.Exit(run_status(mapping, store, public_url, Console()))
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


@sandbox_app.command("bitrix24")
def sandbox_bitrix24(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 = any free port)")] = 0,
    user: Annotated[int, typer.Option(help="User id in the webhook URL")] = 1,
    secret: Annotated[str, typer.Option(help="Webhook secret in the URL")] = "sandbox",  # noqa: S107
    seed: Annotated[Seed, typer.Option(help="Initial data")] = Seed.demo,
    plan: Annotated[Plan, typer.Option(help="Rate-limit plan")] = Plan.standard,
) -> None:
    """Serve an emulated Bitrix24 portal until interrupted."""
    from bridge.sandbox.bitrix.portal import serve_cli

    serve_cli(port=port, user=user, secret=secret, seed=seed.value, plan=plan.value)


@sandbox_app.command("amocrm")
def sandbox_amocrm(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 = any free port)")] = 0,
    subdomain: Annotated[str, typer.Option(help="Account subdomain")] = "partner",
    token: Annotated[str | None, typer.Option(help="Long-lived token to accept")] = None,
    client_id: Annotated[str | None, typer.Option(help="OAuth integration id")] = None,
    client_secret: Annotated[str | None, typer.Option(help="OAuth integration secret")] = None,
    seed: Annotated[Seed, typer.Option(help="Initial data")] = Seed.demo,
) -> None:
    """Serve an emulated amoCRM account until interrupted."""
    from bridge.sandbox.amocrm.account import serve_cli

    serve_cli(
        port=port,
        subdomain=subdomain,
        token=token,
        client_id=client_id,
        client_secret=client_secret,
        seed=seed.value,
    )


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
    db_url: Annotated[str, typer.Option(envvar="BRIDGE_DB_URL")] = "sqlite:///bridge.db",
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

    oauth_app = OAuthApp(partner, base_url, client_id, Secret(client_secret), redirect_uri)
    try:
        run_auth(
            oauth_app,
            db_url=db_url,
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
    mapping: Annotated[
        Path, typer.Option("--mapping", "-m", envvar="BRIDGE_MAPPING", help="The mapping file")
    ] = Path("mapping.yaml"),
    offline: Annotated[
        bool, typer.Option("--offline", help="Validate the file and environment only")
    ] = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Create the bridge's stamp fields where missing")
    ] = False,
) -> None:
    """Validate mapping.yaml and resolve every name against the live CRMs."""
    from sync.cli.check import run_check

    raise typer.Exit(run_check(mapping, offline=offline, fix=fix))


# --- sync engine commands (logic in sync/cli/passes.py; imported lazily so bridge stays
# --- importable without sync, and the CLI starts fast) ------------------------------

MappingOpt = Annotated[
    Path, typer.Option("--mapping", "-m", envvar="BRIDGE_MAPPING", help="The mapping file")
]
DbUrlOpt = Annotated[str, typer.Option("--db-url", envvar="BRIDGE_DB_URL", help="Database URL")]
SYNC_DB = "sqlite:///bridge.db"


@app.command("sync")
def sync_command(
    mapping: MappingOpt = Path("mapping.yaml"),
    db_url: DbUrlOpt = SYNC_DB,
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan, print, write nothing")] = False,
) -> None:
    """Run one sync pass now: changes → plan → bulk writes → store."""
    from rich.console import Console

    from bridge.store import Store
    from sync.cli.passes import SetupFailed, run_sync

    store = Store.open(db_url)
    try:
        report = run_sync(mapping, store, Console(), partner=partner, dry_run=dry_run)
    except (SetupFailed, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    raise typer.Exit(1 if report.errors else 0)


@app.command("status")
def status_command(db_url: DbUrlOpt = SYNC_DB) -> None:
    """Per partner: links by state, last successful sync, cursor lag, parked, errors."""
    from rich.console import Console

    from bridge.store import Store
    from sync.cli.passes import show_status

    show_status(Store.open(db_url), Console())


@app.command("deal")
def deal_command(
    agency_id: Annotated[str, typer.Argument(help="Agency deal id")], db_url: DbUrlOpt = SYNC_DB
) -> None:
    """Both sides' values of an agency deal's links, and its audit trail."""
    from rich.console import Console

    from bridge.store import Store
    from sync.cli.passes import show_deal

    if not show_deal(Store.open(db_url), agency_id, Console()):
        typer.echo(f"agency deal {agency_id} has no links and no audit entries", err=True)
        raise typer.Exit(1)


@app.command("parked")
def parked_command(db_url: DbUrlOpt = SYNC_DB) -> None:
    """Parked links with the reason each one waits for."""
    from rich.console import Console

    from bridge.store import Store
    from sync.cli.passes import show_parked

    show_parked(Store.open(db_url), Console())


@app.command("retry")
def retry_command(
    link_id: Annotated[int | None, typer.Argument(help="Parked link id (bridge parked)")] = None,
    all_parked: Annotated[bool, typer.Option("--all", help="Every parked link")] = False,
    db_url: DbUrlOpt = SYNC_DB,
) -> None:
    """Queue parked links for the next pass (after you fixed what they wait for)."""
    from bridge.store import Store
    from sync.cli.passes import queue_retry

    if (link_id is None) == (not all_parked):
        typer.echo("error: give one link ID or --all", err=True)
        raise typer.Exit(2)
    queued = queue_retry(Store.open(db_url), None if all_parked else [link_id or 0])
    typer.echo(f"queued {queued} parked link(s) for the next pass")
    raise typer.Exit(0 if queued else 1)


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


@app.command("kpi")
def kpi_command(
    period: Annotated[
        str | None, typer.Option("--period", help="2026-11, 2026-Q4 or 2026 (default: all time)")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the monthly chart here (SVG)")
    ] = None,
    mapping: MappingOpt = Path("mapping.yaml"),
    db_url: DbUrlOpt = SYNC_DB,
    language: Annotated[str, typer.Option("--language", help="ru or en")] = "ru",
    currency: Annotated[str, typer.Option("--currency", help="Report currency")] = "RUB",
) -> None:
    """Per partner: leads, won/lost, conversion, amounts, response time, stale, commission."""
    import datetime as dt

    from rich.console import Console

    from bridge.kpi.report import build_report, parse_period, partners_from_mapping, print_report
    from bridge.store import Store

    if language not in ("ru", "en"):
        typer.echo("error: --language is ru or en", err=True)
        raise typer.Exit(2)
    try:
        chosen = parse_period(period)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    store = Store.open(db_url)
    try:
        report = build_report(
            store,
            dt.datetime.now(dt.UTC),
            period=chosen,
            partners=partners_from_mapping(mapping),
            currency=currency,
            language=language,
        )
    finally:
        store.close()
    print_report(report, Console(), language)
    if chart is not None:
        chart.write_text(report.chart, encoding="utf-8")
        typer.echo(f"chart: {chart}")


@app.command("digest")
def digest_command(
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    post_notes: Annotated[
        bool, typer.Option("--post-notes", help="Ask partners for status updates (once a week)")
    ] = False,
    mapping: MappingOpt = Path("mapping.yaml"),
    db_url: DbUrlOpt = SYNC_DB,
) -> None:
    """Stale deals, deals without a stage change and what the agency waits for, per partner."""
    import datetime as dt

    from bridge.store import Store
    from sync.cli.digest import DigestFailed
    from sync.cli.digest import digest_command as run

    store = Store.open(db_url)
    try:
        report = run(
            mapping,
            store,
            dt.datetime.now(dt.UTC),
            partner=partner,
            post_notes=post_notes,
            echo=typer.echo,
        )
    except DigestFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()
    raise typer.Exit(1 if any(d.notes_failed for d in report.partners) else 0)
