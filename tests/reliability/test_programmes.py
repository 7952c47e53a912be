"""The programmes' own shapes, booked right (issue 17, cases 1–3), over the sandboxes.

Real adapters over real HTTP against the Bitrix24 and amoCRM sandboxes, a fresh
store, the engine's real pass; every expected figure is written out by hand:

1. Notamedia fan-out — one deal to an amoCRM partner (alfa) and a Bitrix24 partner
   (beta), 25 % of the won amount: beta loses → the agency deal stays open; alfa wins
   at 640 000 → agency won 640 000; beta edits its lost deal to 550 000 → agency
   unchanged; ledger alfa 160 000, beta 0; KPIs: beta 0 won.
2. Radist re-routing — 40 % of each payment: routed to alfa, paid 5 000 (alfa 2 000),
   re-routed to beta → alfa reversed to 0 ("re-routed to beta"), beta 2 000, alfa's
   deal told, the audit names the agency user who changed the routing.
3. A parked link — an amount with kopecks (15 000,50) cannot go to amoCRM, the link
   parks; a 15 000 client payment on the agency deal still books 6 000.

The invariant checker runs after each, reading the CRMs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from bridge.kpi.report import build_report
from bridge.ledger import book
from bridge.ledger.entries import EntryKind
from bridge.model import Deal, Hint, HintKind, LinkStatus, Pipeline, Semantics
from bridge.sandbox.world import EXAMPLE_MAPPING, FIRST_STAGE, SandboxWorld, sandbox_world
from bridge.store import links
from bridge.store.db import Store
from bridge.store.tables import AuditRow
from sync.engine import Engine
from sync.sources import inbox
from tests.reliability.invariants import check_invariants, secrets_of
from tests.reliability.sandboxes import Checked, checker_view

EXAMPLE = EXAMPLE_MAPPING.read_text("utf-8")
ALFA_PAID_MAP = re.compile(r"    fields:\n      paid: .*?converter: money\n", re.S)
ALFA_COMMISSION = re.compile(
    r"    commission: +# replaces the default.*?membership_fee: 60000[^\n]*\n", re.S
)
BETA_COMMISSION = re.compile(
    r"    commission:\n      rules:\n        - kind: percent_of_fee.*?UF_CRM_AGENCY_FEE\n",
    re.S,
)
PAYMENTS = """    commission:
      rules:
        - kind: percent_of_payments
          percent: 40
          payer: partner
          paid_field: UF_CRM_PAID
          due_days: 3
"""


def _replace(pattern: re.Pattern[str], text: str, new: str) -> str:
    out, n = pattern.subn(new, text)
    assert n == 1, f"the example mapping changed: {pattern.pattern[:40]}"
    return out


def notamedia() -> str:
    """The example mapping with the default rule for both: partner owes 25 % of the win."""
    return _replace(BETA_COMMISSION, _replace(ALFA_COMMISSION, EXAMPLE, ""), "")


def radist() -> str:
    """40 % of each client payment the agency records (UF_CRM_PAID), for both partners."""
    text = _replace(ALFA_PAID_MAP, EXAMPLE, "")
    return _replace(BETA_COMMISSION, _replace(ALFA_COMMISSION, text, PAYMENTS), PAYMENTS)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Site:
    world: SandboxWorld
    view: Checked
    store: Store
    engine: Engine

    def check(self, scenario: str) -> None:
        check_invariants(
            self.view,
            self.store,
            self.view.mapping,
            scenario=scenario,
            secrets=secrets_of(self.world.env),
        ).assert_ok()

    def stage(self, name: str) -> str:
        return next(s.id for s in self._agency_pipeline().stages if s.name == name)

    def agency_stage(self, semantics: Semantics) -> str:
        return next(s.id for s in self._agency_pipeline().stages if s.semantics is semantics)

    def _agency_pipeline(self) -> Pipeline:
        wanted = self.view.mapping.agency.pipeline_id
        return next(p for p in self.view.agency.pipelines() if p.id == wanted)

    def partner_stage(self, code: str, semantics: Semantics) -> str:
        wanted = self.view.mapping.partners[code].pipeline_id
        pipeline = next(p for p in self.view.partners[code].pipelines() if p.id == wanted)
        return next(s.id for s in pipeline.stages if s.semantics is semantics)

    def new_deal(self, codes: tuple[str, ...], amount: str = "500000") -> str:
        mapping = self.view.mapping
        return self.world.agency.add_deal(
            {
                "TITLE": "Заявка Notamedia",
                "CATEGORY_ID": int(mapping.agency.pipeline_id),
                "STAGE_ID": self.stage(FIRST_STAGE),
                "OPPORTUNITY": amount,
                "CURRENCY_ID": "RUB",
                mapping.agency.routing_field_id: [mapping.partners[c].routing_value for c in codes],
            }
        )

    def partner_deal(self, code: str, agency_id: str) -> Deal:
        found = self.view.partners[code].find_by_stamp([agency_id]).get(agency_id)
        assert found is not None, f"no deal at {code} for agency deal {agency_id}"
        return found

    def agency_deal(self, agency_id: str) -> Deal:
        return self.view.agency.fetch_deals([agency_id])[agency_id]

    def sync(self, *hinted: tuple[str, str]) -> None:
        """A pass after these (account, deal id) webhooks, as the daemon would run it."""
        now = _now()
        hints = [Hint(self.system(c), i, HintKind.UPDATED, now, "webhook") for c, i in hinted]
        inbox.record(self.store, hints, dt.timedelta(0))
        self.engine.sync()

    def system(self, code: str) -> str:
        return self.view.agency.system if code == "agency" else self.view.partners[code].system

    def booked(self, code: str, deal_id: str) -> Decimal:
        with self.store.transaction() as session:
            return sum(
                (e.amount for e in book.read(session, partner=code, deal_id=deal_id)), Decimal(0)
            )


SiteMaker = Callable[[str], Site]


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[SiteMaker]:
    """A sandbox world with ``mapping.yaml`` = the text given, after its first sync."""
    with ExitStack() as stack:

        def make(text: str) -> Site:
            world = stack.enter_context(sandbox_world(tmp_path, mapping_text=text))
            view = stack.enter_context(checker_view(world))
            store = Store.open(f"sqlite:///{tmp_path / 'bridge.db'}")
            stack.callback(store.close)
            engine = Engine(store, view.mapping, view.agency, view.partners, clock=_now)
            stack.callback(engine.close)  # its lane threads end before the store closes
            engine.sync()  # the first connection: the seeded portal's open deals go out
            return Site(world, view, store, engine)

        yield make


def _kpi_won(site: Site, code: str) -> tuple[int, Decimal]:
    report = build_report(site.store, _now())
    (row,) = [k for k in report.kpis if k.partner_code == code]
    return row.won, row.won_amount


def test_notamedia_fan_out_books_each_partner_on_its_own_deal(make_site: SiteMaker) -> None:
    site = make_site(notamedia())
    deal_id = site.new_deal(("alfa", "beta"))
    site.sync(("agency", deal_id))
    alfa, beta = site.partner_deal("alfa", deal_id), site.partner_deal("beta", deal_id)
    agency_open = site.agency_deal(deal_id).stage_id

    # beta (Bitrix24) loses: alfa still works it, so the agency deal stays open
    site.world.beta.update_deal(beta.id, {"STAGE_ID": site.partner_stage("beta", Semantics.LOST)})
    site.sync(("beta", beta.id))
    assert site.agency_deal(deal_id).stage_id == agency_open

    # alfa (amoCRM) wins at 640 000: the agency deal is won with alfa's amount
    won = int(site.partner_stage("alfa", Semantics.WON))
    site.world.alfa.update_lead(int(alfa.id), {"status_id": won, "price": 640_000})
    site.sync(("alfa", alfa.id))
    after_win = site.agency_deal(deal_id)
    assert after_win.stage_id == site.agency_stage(Semantics.WON)
    assert after_win.amount is not None and after_win.amount.amount == Decimal("640000")

    # beta edits the amount on its lost deal: the agency deal does not move
    site.world.beta.update_deal(beta.id, {"OPPORTUNITY": "550000"})
    site.sync(("beta", beta.id))
    site.sync()
    final = site.agency_deal(deal_id)
    assert (final.stage_id, final.amount) == (after_win.stage_id, after_win.amount)

    # 25 % of each partner's own won amount: alfa owes 160 000, beta nothing
    assert site.booked("alfa", deal_id) == Decimal("160000.00")
    assert site.booked("beta", deal_id) == Decimal("0")
    with site.store.transaction() as session:
        outcomes = {s.partner_code: s.outcome for s in links.states(session, [deal_id])}
    assert outcomes == {"alfa": Semantics.WON, "beta": Semantics.LOST}
    assert _kpi_won(site, "beta") == (0, Decimal("0"))
    assert _kpi_won(site, "alfa")[0] == 1
    site.check("Notamedia fan-out: one partner lost, the other won")


def test_radist_re_routing_moves_the_commission_with_the_deal(make_site: SiteMaker) -> None:
    site = make_site(radist())
    deal_id = site.new_deal(("alfa",), amount="50000")
    site.sync(("agency", deal_id))
    old = site.partner_deal("alfa", deal_id)
    site.world.agency.update_deal(deal_id, {"UF_CRM_PAID": "5000|RUB"})
    site.sync(("agency", deal_id))
    assert site.booked("alfa", deal_id) == Decimal("2000.00")  # 40 % of 5 000

    # the agency restores the client's promo code: the deal goes to beta instead
    routing = site.view.mapping.agency.routing_field_id
    beta_value = site.view.mapping.partners["beta"].routing_value
    site.world.agency.update_deal(deal_id, {routing: [beta_value]})
    site.sync(("agency", deal_id))
    site.sync(("agency", deal_id))  # a replay books nothing more

    assert site.booked("alfa", deal_id) == Decimal("0.00")  # 2 000 − 2 000
    assert site.booked("beta", deal_id) == Decimal("2000.00")  # moved, not duplicated
    with site.store.transaction() as session:
        alfa_entries = book.read(session, partner="alfa", deal_id=deal_id)
        rows = session.exec(select(AuditRow).where(AuditRow.action == "reroute")).all()
        states = {s.partner_code: s for s in links.states(session, [deal_id])}
    (reversal,) = [e for e in alfa_entries if e.amount < 0]
    assert reversal.kind is EntryKind.REVERSAL and reversal.ref == "re-routed to beta"
    assert states["alfa"].status is LinkStatus.CLOSED
    assert states["alfa"].park_reason is None
    (audit,) = rows
    assert (audit.partner_code, audit.old_value, audit.new_value) == ("alfa", "alfa", "beta")
    assert audit.changed_by is not None and audit.changed_by.startswith("agency user ")
    notes = site.view.partners["alfa"].list_notes(old.id)
    assert any("другому партнёру" in n.text for n in notes), notes
    site.check("Radist re-routing after a payment")


def test_a_parked_link_still_books_the_payments_the_agency_records(
    make_site: SiteMaker,
) -> None:
    site = make_site(radist())
    deal_id = site.new_deal(("alfa",), amount="15000.50")  # amoCRM budgets are whole
    site.sync(("agency", deal_id))
    with site.store.transaction() as session:
        (state,) = links.states(session, [deal_id])
    assert state.status is LinkStatus.PARKED and "whole number" in (state.park_reason or "")

    site.world.agency.update_deal(deal_id, {"UF_CRM_PAID": "15000|RUB"})
    site.sync(("agency", deal_id))
    assert site.booked("alfa", deal_id) == Decimal("6000.00")  # 40 % of 15 000, parked
    site.sync(("agency", deal_id))
    assert site.booked("alfa", deal_id) == Decimal("6000.00")  # once

    # the agency corrects the amount: the deal goes out and nothing is booked twice
    site.world.agency.update_deal(deal_id, {"OPPORTUNITY": "15000"})
    site.sync(("agency", deal_id))
    with site.store.transaction() as session:
        (state,) = links.states(session, [deal_id])
    assert state.status is LinkStatus.ACTIVE
    assert site.booked("alfa", deal_id) == Decimal("6000.00")
    site.check("a payment on a parked link")
