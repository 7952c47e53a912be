"""``bridge cabinet link CODE`` and ``bridge cabinet revoke CODE``: partners' cabinet links."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from bridge.cabinet import keys
from sync.cli.common import EnvFileOpt, VerboseOpt, settings, writing_store
from sync.cli.errors import open_store
from sync.web.context import signing_key
from sync.web.links import DEFAULT_DAYS, base_url, cabinet_url

app = typer.Typer(help="Partners' cabinet links: issue and revoke.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _known_partner(mapping_path: Path, code: str) -> None:
    """Refuse a code that mapping.yaml does not list (its secrets need not be set here)."""
    import yaml

    try:
        data = yaml.safe_load(mapping_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(f"{mapping_path}: {exc} (run `bridge check` for every problem)") from None
    known = sorted((data.get("partners") or {}) if isinstance(data, dict) else {})
    if code not in known:
        raise _fail(f"partner {code!r} is not in {mapping_path}; known: {known}")


@app.command("link")
def link_command(
    partner: Annotated[str, typer.Argument(help="Partner code from mapping.yaml")],
    days: Annotated[int, typer.Option("--days", help="Days the link works")] = DEFAULT_DAYS,
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Print a signed link that opens PARTNER's cabinet for --days days (until revoked)."""
    resolved = settings(env_file, verbose=verbose)
    if not 1 <= days <= 365:
        raise _fail(f"--days {days} is out of range; use 1 to 365")
    _known_partner(resolved.mapping_path, partner)
    key = signing_key(resolved.settings.secret_key, resolved.settings.admin_token)
    if key is None:
        raise _fail("set BRIDGE_SECRET_KEY (or BRIDGE_ADMIN_TOKEN) to sign cabinet links")
    store = open_store(resolved.db_url)
    try:
        with store.transaction() as db:
            url = cabinet_url(
                db,
                key,
                base_url(
                    resolved.settings.public_url,
                    resolved.settings.http_host,
                    resolved.settings.http_port,
                ),
                partner,
                days,
                dt.datetime.now(dt.UTC),
            )
    finally:
        store.close()
    typer.echo(url)


@app.command("revoke")
def revoke_command(
    partner: Annotated[str, typer.Argument(help="Partner code from mapping.yaml")],
    env_file: EnvFileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Invalidate every cabinet link of PARTNER issued so far (open sessions end too)."""
    resolved = settings(env_file, verbose=verbose)
    _known_partner(resolved.mapping_path, partner)
    with writing_store(resolved) as store, store.transaction() as db:
        version = keys.revoke(db, partner, "cli", dt.datetime.now(dt.UTC))
    typer.echo(f"revoked every cabinet link of {partner} (key version is now {version})")
