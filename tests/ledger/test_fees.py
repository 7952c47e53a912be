"""Membership fees per contract year: the rule, ``bridge ledger fees`` and the daily job.

Worked example (issue 17, case 6): a partner joining on 4 December 2026 with a fee of
50 000 ₽ a year owes 50 000 ₽ once, payable on 4 December 2026; nothing more on
1 January; the next 50 000 ₽ on 4 December 2027.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bridge.ledger import book
from bridge.ledger.rules import membership_entries
from bridge.mapping.compiled import Commission
from bridge.model import Money
from bridge.sandbox.world import EXAMPLE_MAPPING, SandboxWorld, sandbox_world
from bridge.store import starts
from bridge.store.db import Store
from sync.cli.main import app
from sync.jobs.fees import book_fees
from tests.engine.world import make_world

FEE = Money(Decimal(50000), "RUB")
JOINED = dt.date(2026, 12, 4)


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def test_a_partner_joining_on_4_december_owes_one_fee_until_the_next_4_december() -> None:
    assert membership_entries("alfa", FEE, since=JOINED, until=dt.date(2026, 12, 3)) == []
    (first,) = membership_entries("alfa", FEE, since=JOINED, until=JOINED)
    assert (first.amount, first.payable_at) == (Decimal("50000.00"), _utc(JOINED))
    # Four weeks later, over New Year: still the one fee (no calendar-year fee on 1 January).
    assert membership_entries("alfa", FEE, since=JOINED, until=dt.date(2027, 1, 1)) == [first]
    assert membership_entries("alfa", FEE, since=JOINED, until=dt.date(2027, 12, 3)) == [first]
    again = membership_entries("alfa", FEE, since=JOINED, until=dt.date(2027, 12, 4))
    assert [e.payable_at for e in again] == [_utc(JOINED), _utc(dt.date(2027, 12, 4))]
    assert sum(e.amount for e in again) == Decimal("100000.00")


def test_a_partner_that_joined_years_ago_owes_the_year_in_progress_not_every_past_one() -> None:
    old = dt.date(2019, 6, 1)
    fees = membership_entries(
        "alfa", FEE, since=old, until=dt.date(2026, 12, 4), not_before=dt.date(2026, 11, 20)
    )
    assert [(e.cause, e.payable_at.date()) for e in fees] == [
        ("membership:2026", dt.date(2026, 6, 1))  # the contract year 1.6.2026–31.5.2027
    ]


def test_a_leap_day_start_has_its_anniversary_on_28_february() -> None:
    fees = membership_entries("alfa", FEE, since=dt.date(2028, 2, 29), until=dt.date(2029, 3, 1))
    assert [e.payable_at.date() for e in fees] == [dt.date(2028, 2, 29), dt.date(2029, 2, 28)]


def test_accrue_books_once_and_never_before_the_start(store: Store) -> None:
    commission = Commission(membership_fee=FEE)
    now = _utc(JOINED)
    days = [dt.date(2026, 12, 3), JOINED, dt.date(2026, 12, 5), dt.date(2027, 1, 1)]
    with store.transaction() as session:
        booked = [
            len(book.accrue_membership(session, "alfa", commission, d, now, started=JOINED))
            for d in days
        ]
        assert book.accrue_membership(session, "alfa", commission, JOINED, now, started=None) == []
    assert booked == [0, 1, 0, 0]


def _text(joined: str | None) -> str:
    text = EXAMPLE_MAPPING.read_text("utf-8")
    text = text.replace("membership_fee: 60000", "membership_fee: 50000", 1)
    if joined is not None:
        text = text.replace("    paused: false", f'    paused: false\n    joined: "{joined}"', 1)
    return text


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SandboxWorld]:
    with sandbox_world(tmp_path, mapping_text=_text("2026-12-04")) as started:
        yield started


def _fees(world: SandboxWorld, db: str, *args: str) -> list[dict[str, str]]:
    """The entries booked (or, with --dry-run, previewed) by one run."""
    command = ["ledger", "fees", "--mapping", str(world.mapping_path), "--db-url", db]
    result = CliRunner().invoke(app, [*command, *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    entries: list[dict[str, str]] = json.loads(result.stdout)["entries"]
    return entries


def _booked(db: str) -> list[tuple[str, str, dt.datetime]]:
    store = Store.open(db)
    try:
        with store.transaction() as session:
            return [(e.cause, str(e.amount), e.payable_at) for e in book.read(session)]
    finally:
        store.close()


def test_cli_previews_then_books_each_contract_year_once(
    world: SandboxWorld, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'fees.db'}"
    assert _fees(world, db, "--date", "2026-12-03") == []  # not joined yet
    preview = _fees(world, db, "--dry-run", "--date", "2026-12-04")
    assert [(e["partner"], e["amount"]) for e in preview] == [("alfa", "50000.00")]
    assert _booked(db) == []  # a dry run books nothing
    assert len(_fees(world, db, "--date", "2026-12-04")) == 1
    assert _fees(world, db, "--date", "2026-12-04") == []  # twice books once
    assert _fees(world, db, "--date", "2027-01-01") == []  # no 1 January fee
    assert len(_fees(world, db, "--date", "2027-12-04")) == 1
    assert _booked(db) == [
        ("membership:2026", "50000.00", _utc(JOINED)),
        ("membership:2027", "50000.00", _utc(dt.date(2027, 12, 4))),
    ]


def test_cli_refuses_a_bad_date_and_an_unknown_partner(world: SandboxWorld, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fees.db'}"
    base = ["ledger", "fees", "--mapping", str(world.mapping_path), "--db-url", db]
    bad = CliRunner().invoke(app, [*base, "--date", "4.12.2026"])
    assert bad.exit_code == 2 and "'4.12.2026' is not a date" in bad.output
    unknown = CliRunner().invoke(app, [*base, "--partner", "gamma"])
    assert unknown.exit_code == 2 and "'gamma' is not in" in unknown.output


def test_the_daily_job_counts_from_the_first_sync_without_joined(db_url: str) -> None:
    world = make_world(db_url)
    amo = dataclasses.replace(
        world.mapping.partners["amo"], commission=Commission(membership_fee=FEE)
    )
    mapping = dataclasses.replace(world.mapping, partners={**world.mapping.partners, "amo": amo})
    engine = world.engine()
    engine.update_mapping(mapping)
    # Before the first sync the partner has not started: nothing is owed.
    assert book_fees(world.store, mapping, world.clock.now()) == []
    world.agency_deal(1)
    engine.sync(poll=True)
    with world.store.transaction() as session:
        began = starts.read(session)["amo"]
    (fee,) = book_fees(world.store, mapping, world.clock.now())
    assert fee.payable_at == _utc(began.date())
    assert book_fees(world.store, mapping, world.clock.now()) == []
    joined = dataclasses.replace(amo, joined=dt.date(2026, 3, 1))
    later = dataclasses.replace(mapping, partners={**mapping.partners, "amo": joined})
    # With joined: on 1 March 2027 the contract year 2027 begins (2026's cause is booked).
    (second,) = book_fees(world.store, later, world.clock.now(), today=dt.date(2027, 3, 1))
    assert (second.cause, second.payable_at) == ("membership:2027", _utc(dt.date(2027, 3, 1)))
    world.close()
