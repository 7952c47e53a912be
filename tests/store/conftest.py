from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.store.db import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()
