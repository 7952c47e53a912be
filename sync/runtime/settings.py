"""The one way every ``bridge`` command loads its settings and finds its store and mapping.

Where the values come from, in order of precedence:

1. the process environment (a variable set there always wins),
2. the settings file: ``--env-file PATH`` when given (it must exist), else ``.env``
   in the current directory when there is one.

Relative paths in those values — a SQLite file in ``BRIDGE_DB_URL``, the default
``bridge.db``, and ``BRIDGE_MAPPING`` — are resolved against one *base folder*: the
settings file's folder when a settings file was read, else the current directory.
So ``bridge sync --env-file /srv/bridge/.env`` opens ``/srv/bridge/bridge.db`` from
whatever directory it runs in, exactly like ``bridge run --env-file /srv/bridge/.env``.
Paths typed on the command line (``--db-url``, ``--mapping``) are ordinary shell
arguments and are relative to the current directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bridge.config import Settings, SettingsInvalid
from bridge.config import load_settings as read_values

DOTENV = ".env"


@dataclass(frozen=True)
class Resolved:
    """Settings with every path absolute, and where they were read from."""

    settings: Settings
    base: Path  # the folder relative paths were resolved against
    env_file: Path | None  # the settings file that was read, if any

    @property
    def db_url(self) -> str:
        return self.settings.db_url

    @property
    def mapping_path(self) -> Path:
        return self.settings.mapping_path

    def describe(self) -> str:
        """One line naming the store and the mapping, for ``--verbose`` and ``bridge status``."""
        source = str(self.env_file) if self.env_file else "no settings file"
        return f"store: {display_url(self.db_url)} · mapping: {self.mapping_path} ({source})"


def display_url(url: str) -> str:
    """The URL with any password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def settings_file(env_file: Path | None, cwd: Path) -> Path | None:
    """The settings file to read: ``env_file`` (must exist), else ``cwd/.env`` if present."""
    if env_file is not None:
        path = env_file if env_file.is_absolute() else cwd / env_file
        if not path.is_file():
            raise SettingsInvalid(
                [f"--env-file {env_file}: no such file (give the path of the bridge's .env)"]
            )
        return path.resolve()
    default = cwd / DOTENV
    return default.resolve() if default.is_file() else None


def load_settings(
    env_file: Path | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Resolved:
    """Settings for any command: see the module docstring for precedence and the base folder."""
    here = (cwd or Path.cwd()).resolve()
    found = settings_file(env_file, here)
    base = found.parent if found is not None else here
    settings = read_values(found, environ)
    mapping = settings.mapping_path
    return Resolved(
        dataclasses.replace(
            settings,
            db_url=resolve_db_url(settings.db_url, base),
            mapping_path=mapping if mapping.is_absolute() else base / mapping,
            env_file=found,
        ),
        base,
        found,
    )


def resolve_db_url(url: str, base: Path) -> str:
    """``url`` with a relative SQLite file made absolute against ``base``; others unchanged."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsInvalid(
            [f"BRIDGE_DB_URL={url!r} is not a database URL (e.g. sqlite:///bridge.db)"]
        ) from None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return url
    assert database is not None
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str(base / database)).render_as_string(hide_password=False)


def with_overrides(
    resolved: Resolved, *, db_url: str | None = None, mapping: Path | None = None
) -> Resolved:
    """Command-line ``--db-url`` / ``--mapping`` win; their relative paths follow the shell."""
    here = Path.cwd().resolve()
    settings = resolved.settings
    if db_url is not None:
        settings = dataclasses.replace(settings, db_url=resolve_db_url(db_url, here))
    if mapping is not None:
        settings = dataclasses.replace(
            settings, mapping_path=mapping if mapping.is_absolute() else here / mapping
        )
    return dataclasses.replace(resolved, settings=settings)
