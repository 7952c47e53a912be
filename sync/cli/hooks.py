"""The logic behind ``bridge hooks install`` and ``bridge hooks status``."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bridge.crm import Crm
from bridge.mapping.compiled import Connection
from bridge.mapping.connect import close_all, open_all, open_crm
from bridge.mapping.validate import load_mapping
from bridge.store.db import Store
from sync.sources.subscriptions import install, status


def _open(
    mapping_path: Path, db_url: str
) -> tuple[dict[str, Connection], dict[str, Crm], dict[str, str]]:
    spec = load_mapping(mapping_path)
    connections = {"agency": spec.agency.connection} | {
        code: p.connection for code, p in spec.partners.items()
    }
    # OAuth partners read their tokens from the configured store, not a default one.
    crms, failed = open_all(spec, functools.partial(open_crm, db_url=db_url))
    return connections, crms, failed


def run_install(mapping_path: Path, public_url: str, console: Console, db_url: str) -> int:
    connections, crms, failed = _open(mapping_path, db_url)
    try:
        for line in install(public_url, connections, crms):
            console.print(line, markup=False)
    finally:
        close_all(crms)
    for label, reason in failed.items():
        console.print(f"{label}: not reachable: {reason}", markup=False)
    return 1 if failed else 0


def run_status(mapping_path: Path, store: Store, public_url: str | None, console: Console) -> int:
    connections, crms, failed = _open(
        mapping_path, store.engine.url.render_as_string(hide_password=False)
    )
    try:
        rows = status(store, connections, crms, public_url, dt.datetime.now(dt.UTC))
    finally:
        close_all(crms)
    table = Table(title="webhooks")
    for column in ("account", "registered", "last delivery", "deliveries", "last change seen", ""):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.label,
            row.registered,
            _when(row.last_delivery),
            str(row.deliveries),
            _when(row.last_change),
            row.warning,
        )
    console.print(table)
    for label, reason in failed.items():
        console.print(f"{label}: not reachable: {reason}", markup=False)
    return 1 if failed or any(r.warning for r in rows) else 0


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"
