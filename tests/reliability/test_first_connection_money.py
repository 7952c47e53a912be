"""Operator paths: connecting an existing portal, and a partner typing implausible money.

Over the sandboxes (the agency portal seeded with three months of deals, some already
won or lost) with the real adapters and a fresh store:

* the first sync hands over open deals only; closed ones are recorded as closed
  links with their reason, none reaches a partner CRM, no commission is booked — and
  a dry run beforehand says so with the same counts;
* a cumulative paid field set 100 000 → 1 000 000 000 → −5 000 books the first value
  and parks the link for the others; ``bridge retry --confirm`` books a confirmed one;
* an agency amount of 99 999 999 999 999 999 999.99 reaches no partner (Bitrix24 keeps
  a double): both links park with the value in the reason.

The invariant checker runs after each, reading the CRMs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.ledger import book
from bridge.model import HISTORY_KEY, Hint, HintKind, LinkStatus
from bridge.sandbox.world import SandboxWorld, sandbox_world
from bridge.store import links
from bridge.store.db import Store
from sync.engine import Engine
from sync.first_sync import handover_lines
from sync.sources import inbox
from tests.reliability.invariants import check_invariants, secrets_of
from tests.reliability.sandboxes import Checked, Workload, checker_view


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Site:
    world: SandboxWorld
    view: Checked
    store: Store
    engines: list[Engine] = field(default_factory=list)

    def engine(self) -> Engine:
        made = Engine(
            self.store, self.view.mapping, self.view.agency, self.view.partners, clock=_now
        )
        self.engines.append(made)
        return made

    def check(self, scenario: str, work: Workload | None = None) -> None:
        check_invariants(
            self.view,
            self.store,
            self.view.mapping,
            scenario=scenario,
            changes=work.changes if work else 0,
            secrets=secrets_of(self.world.env),
        ).assert_ok()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with sandbox_world(tmp_path) as world, checker_view(world) as view:
        store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
        built = Site(world, view, store)
        try:
            yield built
        finally:
            for engine in built.engines:
                engine.close()
            store.close()


def _stamps(site: Site) -> set[str]:
    """Every agency deal id stamped on a partner deal, read from the partner CRMs."""
    found: set[str] = set()
    for crm in site.view.partners.values():
        for page in crm.list_changed(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)):
            found.update(d.stamp for d in page.deals if d.stamp)
    return found


def _closed_seeded(site: Site) -> dict[str, str]:
    """Seeded agency deals routed to a mapped partner and already won or lost: id → code."""
    mapping = site.view.mapping
    pipeline = next(p for p in site.view.agency.pipelines() if p.id == mapping.agency.pipeline_id)
    closed = {s.id for s in pipeline.stages if s.semantics.value != "open"}
    out: dict[str, str] = {}
    for page in site.view.agency.list_changed(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)):
        for deal in page.deals:
            routed = mapping.routed_partners(deal.fields.get(mapping.agency.routing_field_id))
            if deal.pipeline_id == mapping.agency.pipeline_id and deal.stage_id in closed:
                for partner in routed:
                    out[deal.id] = partner.code
    return out


def test_the_first_connection_hands_over_open_deals_only(site: Site) -> None:
    closed = _closed_seeded(site)
    assert len(closed) >= 4, "the seeded portal has closed partner deals"
    engine = site.engine()
    preview = engine.sync(dry_run=True)
    lines = handover_lines(preview.plans, site.view.mapping, sorted(preview.starts), ["alfa"])
    assert lines[0].startswith("alfa (first sync): ")
    promised = {
        code: sum(1 for p in preview.plans if p.link_key[1] == code and p.writes)
        for code in preview.starts
    }
    with site.store.transaction() as session:
        assert links.for_partner(session, "alfa") == []  # the dry run wrote nothing

    for _ in range(2):
        engine.sync()

    stamps = _stamps(site)
    assert not stamps & set(closed), "no deal closed before the start reached a partner"
    with site.store.transaction() as session:
        rows = [r for code in ("alfa", "beta") for r in links.for_partner(session, code)]
        entries = book.read(session)
    history = [r for r in rows if r.status == LinkStatus.CLOSED.value]
    assert {r.agency_deal_id for r in history} == set(closed)
    reasons = [links.state_of(r).synced.get(HISTORY_KEY) for r in history]
    assert all("not handed over" in str(reason) for reason in reasons), reasons
    assert entries == [], "no commission for history"
    created = {
        c: sum(1 for r in rows if r.partner_code == c and r.partner_deal_id) for c in promised
    }
    assert created == promised, "the dry run counted what the first sync then did"
    site.check("first connection on a portal with closed deals")


def _paid_hint(site: Site, partner_deal_id: str) -> None:
    """What amoCRM's webhook does after an edit: a hint for that lead (no polling race)."""
    system = site.view.partners["alfa"].system
    hint = Hint(system, partner_deal_id, HintKind.UPDATED, _now(), "webhook")
    inbox.record(site.store, [hint], dt.timedelta(0))


def test_implausible_paid_values_park_and_a_confirmation_books_one(site: Site) -> None:
    work = Workload(site.world, site.view.mapping, seed=16)
    engine = site.engine()
    engine.sync()
    deal_id = work.new_deal("alfa")  # amount 100 001
    engine.sync()
    with site.store.transaction() as session:
        (row,) = links.by_agency_ids(session, [deal_id])
    assert row.partner_deal_id is not None
    field_id = site.world.alfa.field_id("Оплачено клиентом")

    def paid(value: str) -> None:
        values = [{"field_id": field_id, "values": [{"value": value}]}]
        site.world.alfa.update_lead(int(row.partner_deal_id or 0), {"custom_fields_values": values})
        _paid_hint(site, row.partner_deal_id or "")
        engine.sync(poll=False)

    def state() -> tuple[str, str, list[tuple[str, Decimal]]]:
        with site.store.transaction() as session:
            (now,) = links.by_agency_ids(session, [deal_id])
            entries = book.read(session, deal_id=deal_id)
        return now.status, now.park_reason or "", [(e.cause, e.amount) for e in entries]

    paid("100000")
    assert state() == ("active", "", [("percent_of_payments:paid@100000.00", Decimal("40000.00"))])
    paid("1000000000")
    status, reason, booked = state()
    assert status == "parked" and "jumped to 1 000 000 000 RUB" in reason
    assert booked == [("percent_of_payments:paid@100000.00", Decimal("40000.00"))]
    paid("-5000")
    status, reason, booked = state()
    assert status == "parked" and "is -5 000 RUB" in reason and len(booked) == 1
    agency = site.world.agency.get_deal(deal_id) or {}
    # the agency's paid field still says what was booked from
    assert str(agency.get("UF_CRM_PAID", "")).startswith("100000")

    paid("300000")  # the partner meant 300 000: +200 000 ≤ 2 × 100 001, goes on by itself
    status, _, booked = state()
    assert status == "active" and booked[-1] == (
        "percent_of_payments:paid@300000.00",
        Decimal("80000.00"),
    )

    paid("900000")  # +600 000 > 2 × 100 001: parked; a person confirms it is right
    assert state()[0] == "parked"
    assert engine.retry([row.id or 0], confirm=True) == 1
    engine.sync(poll=False)
    status, _, booked = state()
    assert status == "active" and booked[-1] == (
        "percent_of_payments:paid@900000.00",
        Decimal("240000.00"),
    )
    site.check("implausible paid values", work)


def test_an_amount_no_crm_holds_exactly_reaches_no_partner(site: Site) -> None:
    work = Workload(site.world, site.view.mapping, seed=17)
    engine = site.engine()
    engine.sync()
    mapping = site.view.mapping
    deal_id = site.world.agency.add_deal(
        {
            "TITLE": "Огромная сумма",
            "CATEGORY_ID": int(mapping.agency.pipeline_id),
            "STAGE_ID": work._first_stage,
            "OPPORTUNITY": "99999999999999999999.99",
            "CURRENCY_ID": "RUB",
            mapping.agency.routing_field_id: [
                mapping.partners[c].routing_value for c in ("alfa", "beta")
            ],
        }
    )
    work.changes += 1
    for _ in range(2):
        engine.sync()
    with site.store.transaction() as session:
        rows = links.by_agency_ids(session, [deal_id])
    assert sorted(r.partner_code for r in rows) == ["alfa", "beta"]
    for row in rows:
        assert row.status == LinkStatus.PARKED.value and row.partner_deal_id is None
        assert "100000000000000000000" in (row.park_reason or "")
        assert "nothing is rounded" in (row.park_reason or "")
    assert deal_id not in _stamps(site)
    site.check("an amount no CRM holds exactly", work)
