from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bridge.model import FieldValue, LinkStatus, Money
from bridge.store.db import (
    Store,
    alembic_config,
    current_revision,
    make_engine,
    migrate,
    script_heads,
)
from bridge.store.metadata import target_metadata
from bridge.store.tables import LinkRow
from bridge.store.types import dump_values, load_values

NOW = dt.datetime(2026, 11, 24, 21, 0, tzinfo=dt.UTC)


def test_migrated_schema_equals_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), target_metadata())
    engine.dispose()
    assert diff == []


def test_migrate_is_idempotent_and_reports_head(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url)
    with caplog.at_level(logging.INFO, logger="bridge.store.db"):
        migrate(engine)
        migrate(engine)
    head = current_revision(engine)
    assert head is not None
    engine.dispose()
    # One line for the upgrade (not Alembic's line per step), none when already current.
    said = [r.getMessage() for r in caplog.records if r.name == "bridge.store.db"]
    assert len(said) == 1 and said[0].endswith(f": schema new → {head}"), said


def test_the_newest_revision_is_read_from_the_files_as_alembic_reads_it() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert script_heads() == set(heads)


def test_a_current_schema_opens_without_importing_alembic(tmp_path: Path) -> None:
    """Alembic (with Mako and Pygments) is 12 MB of a process that has no migration to run."""
    url = f"sqlite:///{tmp_path}/current.db"
    Store.open(url).close()  # migrated here
    probe = (
        "import sys\n"
        "from bridge.store.db import Store\n"
        f"Store.open({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_old_schema_is_still_upgraded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    migrate(engine, "0012_currency")
    migrate(engine)
    assert current_revision(engine) == "0013_partnerjobs"
    engine.dispose()


def _link(agency: str = "10", partner: str = "atwinta") -> LinkRow:
    return LinkRow(agency_deal_id=agency, partner_code=partner, status=LinkStatus.ACTIVE.value)


def test_times_come_back_aware_utc_and_money_exact(store: Store) -> None:
    moscow = dt.timezone(dt.timedelta(hours=3))
    row = _link()
    row.agency_updated_at = dt.datetime(2026, 11, 25, 1, 30, tzinfo=moscow)
    row.agency_amount = Decimal("1234567890.0100")
    row.agency_currency = "RUB"
    row.park_reason = "Стадия «Переговоры» не найдена"
    from bridge.store import links

    with store.transaction() as session:
        links.save(session, row, NOW)
    with store.transaction() as session:
        (back,) = links.by_agency_ids(session, ["10"])
    assert back.agency_updated_at == dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)
    assert back.agency_updated_at.tzinfo is not None
    assert back.agency_amount == Decimal("1234567890.0100")
    assert str(back.agency_amount) == "1234567890.0100"
    assert back.created_at == NOW


def test_naive_datetimes_are_refused(store: Store) -> None:
    from bridge.store import links

    row = _link()
    row.agency_updated_at = dt.datetime(2026, 1, 1)
    with pytest.raises(Exception, match="timezone-aware"), store.transaction() as session:
        links.save(session, row, NOW)


def test_one_link_per_agency_deal_and_partner(store: Store) -> None:
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(_link())
        session.add(_link())
        session.flush()


def test_canonical_values_round_trip_exactly() -> None:
    values: dict[str, FieldValue] = {
        "title": "Сайт для «Ромашки»",
        "amount": Money(Decimal("10.50"), "RUB"),
        "fee": Decimal("0.1"),
        "count": 3,
        "flag": False,
        "due": dt.date(2026, 12, 1),
        "at": dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC),
        "tags": ("1", "2"),
        "empty": None,
    }
    assert load_values(dump_values(values)) == values
    assert "Ромашки" in dump_values(values)


def test_sqlite_uses_wal_and_immediate_transactions(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    store = Store.open(url)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        # a small page cache per connection (KiB; SQLite's own default is 2,000)
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -512
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with store.transaction() as session:
            session.execute(text("select 1"))  # a read only: IMMEDIATE still takes the lock
            inside.set()
            release.wait(5)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(5)
    timer = threading.Timer(0.2, release.set)
    timer.start()
    with store.transaction() as session:
        session.execute(text("select 1"))
        order.append("second")
    thread.join()
    timer.join()
    store.close()
    assert order == ["first", "second"]
