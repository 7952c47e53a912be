"""Any number of processes may start on a fresh PostgreSQL database at once: all migrate."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.store.db import current_revision, make_engine
from tests.pg import fresh_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    with fresh_database("pb_config_mig_") as url:
        yield url


# Each process waits until the start file exists, so all four open the store at once.
OPEN = """
import os, sys, time
from bridge.store.db import Store
deadline = time.monotonic() + 60
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.001)
Store.open(sys.argv[1]).close()
print("migrated")
"""


def _error(stderr: str) -> str:
    """The exception line of a traceback (e.g. ``UniqueViolation … alembic_version``)."""
    lines = [line for line in stderr.splitlines() if "Error" in line or "Violation" in line]
    return lines[-1] if lines else stderr[-300:]


def test_four_processes_migrating_a_fresh_database_at_once_all_succeed(
    fresh_pg: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, fresh_pg, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    go.touch()
    outcomes = [p.communicate(timeout=120) for p in processes]
    failed = [_error(err) for p, (_, err) in zip(processes, outcomes, strict=True) if p.returncode]
    assert failed == []
    assert all(out.strip() == "migrated" for out, _ in outcomes)
    engine = make_engine(fresh_pg)
    try:
        assert current_revision(engine) is not None
    finally:
        engine.dispose()
