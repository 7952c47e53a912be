"""A partner that keeps its own currency, over the sandboxes with the real adapters.

The example world with partner ``alfa`` (amoCRM) in KZT while the agency reports in RUB,
and one rate the admin entered, ``1 KZT = 0.2 RUB``:

* a 100 001 RUB agency deal reaches alfa as a 500 005 KZT lead (RUB → KZT divides);
* alfa wins it at 600 000 KZT → the agency deal reads 120 000 RUB (KZT → RUB multiplies);
* the invariant checker passes, reading the CRMs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.fx.rates import Rate
from bridge.model import Hint, HintKind, LinkStatus
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store import links
from bridge.store.db import Store
from sync.engine import Engine
from sync.rates import set_rate
from sync.sources import inbox
from tests.mapping.conftest import EXAMPLE
from tests.reliability.invariants import check_invariants, secrets_of
from tests.reliability.sandboxes import Checked, Workload, checker_view

ALFA_CURRENCY = "    currency: RUB               # the currency its CRM keeps"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


KztWorld = tuple[SandboxWorld, Checked, Store]


@pytest.fixture
def kzt_world(tmp_path: Path) -> Iterator[KztWorld]:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert ALFA_CURRENCY in text
    text = text.replace(ALFA_CURRENCY, ALFA_CURRENCY.replace("RUB", "KZT"))
    with sandbox_world(tmp_path, mapping_text=text) as world, checker_view(world) as view:
        store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
        try:
            yield world, view, store
        finally:
            store.close()


def test_a_kzt_amocrm_partner_mirrors_both_ways_at_the_entered_rate(
    kzt_world: KztWorld, request: pytest.FixtureRequest
) -> None:
    world, view, store = kzt_world
    assert view.mapping.partners["alfa"].currency == "KZT"
    set_rate(store, Rate("KZT", "RUB", Decimal("0.2"), dt.date(2020, 1, 1)), "test", _now())
    engine = Engine(store, view.mapping, view.agency, view.partners, clock=_now)
    request.addfinalizer(engine.close)  # its lane threads end with the test
    work = Workload(world, view.mapping, seed=21)
    engine.sync()
    deal_id = work.new_deal("alfa")  # 100 001 RUB
    engine.sync()
    with store.transaction() as session:
        (row,) = links.by_agency_ids(session, [deal_id])
    assert row.status == LinkStatus.ACTIVE.value, row.park_reason
    lead_id = int(row.partner_deal_id or 0)
    assert (world.alfa.get_lead(lead_id) or {})["price"] == 500_005  # 100 001 ÷ 0.2
    (read,) = view.partners["alfa"].fetch_deals([str(lead_id)]).values()
    assert read.amount is not None and read.amount.currency == "KZT"  # the account's currency

    world.alfa.update_lead(lead_id, {"price": 600_000, "status_id": 142})  # won
    system = view.partners["alfa"].system
    hint = Hint(system, str(lead_id), HintKind.UPDATED, _now(), "webhook")
    inbox.record(store, [hint], dt.timedelta(0))  # what amoCRM's webhook does
    engine.sync(poll=False)
    agency = world.agency.get_deal(deal_id) or {}
    assert Decimal(str(agency["OPPORTUNITY"])) == Decimal(120_000)  # 600 000 × 0.2
    assert agency["CURRENCY_ID"] == "RUB"
    work.changes += 2
    check_invariants(
        view,
        store,
        view.mapping,
        scenario="a KZT partner at an entered rate",
        changes=work.changes,
        secrets=secrets_of(world.env),
    ).assert_ok()
