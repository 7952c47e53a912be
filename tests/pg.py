"""A PostgreSQL database of a test's own (advisory locks and procrastinate are per database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tests.conftest import _pg_base


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """Create ``<prefix><random>`` on the test server, yield its URL, drop it afterwards.

    Call it only after the ``pg_url`` fixture ran (that one skips without a server).
    """
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(_pg_base(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(_pg_base()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
