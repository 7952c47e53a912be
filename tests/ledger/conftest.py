from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.store.db import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store (0001_initial + 0002_ledger) on SQLite and on PostgreSQL."""
    opened = Store.open(db_url)
    yield opened
    opened.close()
