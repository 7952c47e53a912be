"""Opening the database: the :class:`Store` handle, engine settings per dialect, migrations.

Open it with :meth:`Store.open` (migrates to the newest schema); do every
applied plan inside one :meth:`Store.transaction`.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on the lock up
front instead of failing halfway with "database is locked". This uses the
event hooks SQLAlchemy documents for pysqlite's broken transaction handling.

A SQLite file is also pinned by identity: the device and inode of the file the
first connection opened are recorded, and every later connection and every
transaction first checks that the path still names that file. A file deleted or
replaced under a running process raises :class:`StoreFileLost` instead of
writing into an unlinked inode (lost at restart) or into a stranger's database.
"""

from __future__ import annotations

import ast
import logging
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///bridge.db"
BUSY_TIMEOUT_MS = 30_000
# Page cache of one SQLite connection, KiB (SQLite's own default is 2,000). In WAL mode a
# connection's cache is dropped whenever another connection has committed since its last
# transaction, and a pass's lanes commit on connections of their own: ten lanes kept up
# to 20 MB of pages they could seldom reuse.
CACHE_KIB = 512
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Execution option: False commits without waiting for the disk (Store.transaction).
DURABLE = "bridge_durable"
# The SQLite ``synchronous`` level a pooled connection was last given (its ``info``).
_SYNCHRONOUS = "bridge_synchronous"
# The advisory-lock key every bridge process takes around Alembic (any fixed bigint).
MIGRATION_LOCK = 0x7062_6D69_6772  # "pbmigr"


class StoreFileLost(RuntimeError):
    """The SQLite file this store opened was deleted, replaced or made read-only."""


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a SQLite store opened: its path, device and inode."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        found = os.stat(path)
        return cls(path, found.st_dev, found.st_ino)

    def problem(self) -> str | None:
        """None while the path still names this file and it is writable, else what is wrong."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return f"file deleted: {self.path}"
        except OSError as exc:
            return f"file unreadable: {self.path} ({exc.strerror})"
        if (found.st_dev, found.st_ino) != (self.device, self.inode):
            return f"file replaced: {self.path}"
        if not os.access(self.path, os.W_OK) or not os.access(self.path.parent, os.W_OK):
            return f"not writable: {self.path}"
        return None


_IDENTITIES: weakref.WeakKeyDictionary[Engine, FileIdentity] = weakref.WeakKeyDictionary()
_IDENTITIES_LOCK = threading.Lock()


def file_identity(engine: Engine) -> FileIdentity | None:
    """The file a SQLite engine opened (None for PostgreSQL, in-memory or not yet opened)."""
    with _IDENTITIES_LOCK:
        return _IDENTITIES.get(engine)


def file_problem(engine: Engine) -> str | None:
    """What is wrong with the engine's SQLite file now (deleted, replaced, read-only), or None."""
    identity = file_identity(engine)
    return identity.problem() if identity is not None else None


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    pinned: FileIdentity | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and immediate writes.

    A caller that must answer fast (a webhook has 2 s at amoCRM) asks for a short
    ``busy_timeout_ms`` and fails instead of waiting out another writer. A second
    engine on a file another engine already opened passes that one's identity as
    ``pinned``, so even its first connection refuses a file that is no longer it.
    """
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs)
    path = _sqlite_path(url)
    if path is not None:
        _refuse_lost_file(engine)  # first: checked before the BEGIN IMMEDIATE below
    _install_sqlite_hooks(engine, busy_timeout_ms)
    if path is not None and pinned is not None:
        with _IDENTITIES_LOCK:
            _IDENTITIES[engine] = pinned
    elif path is not None:
        _pin_file(engine, path)
    return engine


def _refuse_lost_file(engine: Engine) -> None:
    """No new connection and no transaction once the pinned file is gone."""

    def check(*_: Any) -> None:
        problem = file_problem(engine)
        if problem is not None:
            raise StoreFileLost(problem)

    # A new connection would create an empty file where the old one was.
    event.listen(engine, "do_connect", check)
    event.listen(engine, "begin", check)


def _pin_file(engine: Engine, path: Path) -> None:
    """Record the file the first connection opened (after its pragmas created it)."""

    @event.listens_for(engine, "connect")
    def _pin(*_: Any) -> None:
        with _IDENTITIES_LOCK:
            if engine not in _IDENTITIES:
                _IDENTITIES[engine] = FileIdentity.of(path)


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Checked on every transaction (it cannot change inside one), so a pooled
        # connection never carries a relaxed level into a durable transaction; set only
        # when it differs from what this connection last had (each statement is a GIL
        # hand-over, and a lane recording waits for every one of them).
        durable = connection.get_execution_options().get(DURABLE, True)
        level = "FULL" if durable else "NORMAL"
        if connection.info.get(_SYNCHRONOUS) != level:
            connection.exec_driver_sql(f"PRAGMA synchronous={level}")
            connection.info[_SYNCHRONOUS] = level
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config() -> Config:
    """Alembic configured in code, so an installed wheel can migrate without an ini file."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default: the newest); silent when already there.

    On PostgreSQL the upgrade runs under a transaction-scoped advisory lock, so any
    number of processes may start at once on a fresh database: the first migrates,
    the others wait for its commit and then find the schema current. (SQLite's
    ``BEGIN IMMEDIATE`` already serialises writers.)

    A schema already at the newest revision is told from the migration files alone,
    without importing Alembic (with Mako and Pygments, 12 MB of every bridge process).
    """
    if revision == "head" and (heads := script_heads()) and _stamped(engine) == heads:
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config()
    was = _stamped(engine)
    if revision == "head":
        heads = set(ScriptDirectory.from_config(config).get_heads())
        if heads and was == heads:
            return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    now = _stamped(engine)
    if now != was:
        log.info(
            "store %s: schema %s → %s",
            engine.url.render_as_string(hide_password=True),
            ", ".join(sorted(was)) or "new",
            ", ".join(sorted(now)),
        )


def script_heads() -> set[str] | None:
    """The newest revisions of ``migrations/versions`` — those no other one revises —
    read from each file's ``revision`` and ``down_revision``; None when a file does not
    say them plainly (Alembic reads them then)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text("utf-8")).body:
            target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(target, ast.Name) and value is not None:
                try:
                    values[target.id] = ast.literal_eval(value)
                except ValueError:
                    values[target.id] = ...
        revision, down = values.get("revision"), values.get("down_revision", ...)
        downs = down if isinstance(down, tuple | list) else () if down is None else (down,)
        if not isinstance(revision, str) or not all(isinstance(d, str) for d in downs):
            return None
        revisions.add(revision)
        revised.update(downs)
    return revisions - revised or None


def _stamped(engine: Engine) -> set[str]:
    """The revisions recorded in ``alembic_version`` (read quietly: Alembic's context logs)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        return {str(row[0]) for row in rows}


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class Store:
    """A handle on the database. Thread-safe; each transaction gets its own session."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # the same pool, its transactions marked not durable (see transaction())
        self._relaxed = engine.execution_options(**{DURABLE: False})

    @classmethod
    def open(cls, url: str = DEFAULT_URL, *, upgrade: bool = True) -> Store:
        engine = make_engine(url)
        if upgrade:
            migrate(engine)
        return cls(engine)

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception.

        ``durable=False`` commits without waiting for the disk (SQLite
        ``synchronous=NORMAL`` in WAL mode, PostgreSQL ``synchronous_commit=off``): a
        power cut may lose it, never reorder it — the next durable commit makes it
        durable too, as both logs are written in order. For work whose loss is a crash
        the bridge already recovers from (the record step), never for an intent or a
        cursor.
        """
        bind = self.engine if durable else self._relaxed
        with Session(bind, expire_on_commit=False) as session, session.begin():
            if not durable and self.engine.dialect.name == "postgresql":
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield session

    def exclusive(self, key: int) -> AbstractContextManager[None]:
        """Hold the database-wide lock ``key`` (every process on this store) meanwhile."""
        return exclusive(self.engine, key)

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def exclusive(engine: Engine, key: int) -> Iterator[None]:
    """A PostgreSQL session advisory lock held on a connection of its own for the block,
    so every bridge process on the database waits for it; on SQLite nothing (one daemon
    holds the store's file lock, and a process serialises its own threads)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
