"""What every command shares: ``--env-file``/``--verbose``, settings, the store, the write lock.

Every command that touches the store or the mapping loads its settings through
:func:`settings` (one function, :func:`sync.runtime.settings.load_settings`), so
``bridge status`` and ``bridge sync`` open the same store as ``bridge run``.
Commands that write to a SQLite store open it through :func:`writing_store` (or run
inside :func:`writing`), which takes the daemon's lock: beside a running daemon they
refuse with one line instead of racing it; read-only commands never take the lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from bridge.config import SettingsInvalid
from bridge.store.db import Store
from sync.runtime.settings import Resolved, load_settings, with_overrides
from sync.runtime.single import AlreadyRunning, DaemonLock

EnvFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help="Settings file (default: .env in the current directory, if any); "
        "relative paths in it are resolved against its folder",
    ),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Say which store and mapping are used")
]
DbUrlOpt = Annotated[
    str | None,
    typer.Option("--db-url", help="Database URL (default: BRIDGE_DB_URL from the settings)"),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", "-m", help="The mapping file (default: BRIDGE_MAPPING)"),
]

_verbose = {"on": False}  # the top-level ``bridge --verbose``


def set_verbose(on: bool) -> None:
    _verbose["on"] = on


def settings(
    env_file: Path | None,
    *,
    verbose: bool = False,
    db_url: str | None = None,
    mapping: Path | None = None,
    announce: bool = False,
) -> Resolved:
    """Load settings the one way; ``announce`` (or ``--verbose``) prints store and mapping."""
    if verbose and not _verbose["on"]:
        from bridge.logs import configure_logging

        configure_logging(verbose=True)
    try:
        resolved = with_overrides(load_settings(env_file), db_url=db_url, mapping=mapping)
    except SettingsInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    if announce or verbose or _verbose["on"]:
        typer.echo(resolved.describe(), err=not announce)
    return resolved


@contextmanager
def reading(resolved: Resolved, *, existing: bool = True) -> Iterator[Store]:
    """The settings' store, open for one command and closed after it (a bad or unreachable
    URL, or a store that is not there for a command that only reads, is one line:
    :func:`sync.cli.errors.open_store`)."""
    from sync.cli.errors import open_store

    store = open_store(resolved.db_url, existing=existing)
    try:
        yield store
    finally:
        store.close()


def refusal(exc: AlreadyRunning) -> str:
    """The one line a writing command prints beside a running daemon."""
    return (
        f"error: a bridge daemon (pid {exc.pid}) holds {exc.database}; "
        "it will run the pass — or stop it first"
    )


@contextmanager
def writing(resolved: Resolved) -> Iterator[None]:
    """Hold the daemon's lock (SQLite) for a writing command; refuse with exit 1 if held."""
    lock = DaemonLock(resolved.db_url)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        typer.echo(refusal(exc), err=True)
        raise typer.Exit(1) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def writing_store(resolved: Resolved) -> Iterator[Store]:
    """The store open for a writing command under the daemon's lock, both released after it.

    The one way writing commands open the store, so each refuses beside a running
    daemon with the same line (:func:`refusal`) before the store is even opened."""
    with writing(resolved), reading(resolved, existing=False) as store:
        yield store
