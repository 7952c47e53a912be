from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.world import World, make_world


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    built = make_world(db_url)
    yield built
    built.close()


@pytest.fixture
def sqlite_world(tmp_path: object) -> Iterator[World]:
    built = make_world(f"sqlite:///{tmp_path}/engine.db")
    yield built
    built.close()
