"""Shared fixtures: ``db_url`` runs a test on SQLite (a temp file) and on PostgreSQL.

PostgreSQL is found at ``BRIDGE_TEST_PG_URL`` (default: the local ``test``
database as ``postgres``). Without a server the PostgreSQL run is skipped,
unless ``BRIDGE_REQUIRE_POSTGRES=1`` makes that a failure (CI). Each test gets
its own schema, dropped afterwards, so parallel runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_base() -> str:
    return os.environ.get("BRIDGE_TEST_PG_URL", PG_DEFAULT)


def _pg_reachable(url: str) -> str | None:
    """None when the server answers, else why not."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except Exception as exc:  # any failure to connect means "no server for tests"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def _pg_status() -> str | None:
    return _pg_reachable(_pg_base())


@pytest.fixture
def pg_url(_pg_status: str | None) -> Iterator[str]:
    base = _pg_base()
    if _pg_status is not None:
        message = (
            f"PostgreSQL not reachable at {sa.make_url(base).render_as_string()}: {_pg_status}"
        )
        if os.environ.get("BRIDGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (BRIDGE_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    schema = f"bt_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bridge.db'}"
    return str(request.getfixturevalue("pg_url"))
