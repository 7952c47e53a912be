from __future__ import annotations

from decimal import Decimal

from bridge.ledger import book
from bridge.ledger.entries import EntryKind
from bridge.model import Money
from sync.sources.reconcile import reconcile
from tests.engine.world import World


def test_won_at_the_partner_accrues_once_in_the_same_pass(world: World) -> None:
    deal = world.agency_deal(1, ("amo",))
    engine = world.engine()
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    world.amo.user_edit(partner_deal.id, stage_id="142", amount=Money(Decimal("10000"), "RUB"))
    engine.sync()
    engine.sync()
    world.agency.user_edit(deal.id, title="Переименована")  # a later unrelated change
    engine.sync()
    with world.store.transaction() as session:
        entries = book.read(session, partner="amo", deal_id=deal.id)
    assert [(e.kind, e.amount) for e in entries] == [(EntryKind.ACCRUAL, Decimal("2500.00"))]
    world.amo.user_edit(partner_deal.id, stage_id="143")  # lost after won: reversal
    engine.sync()
    with world.store.transaction() as session:
        kinds = [e.kind for e in book.read(session, partner="amo", deal_id=deal.id)]
    assert kinds == [EntryKind.ACCRUAL, EntryKind.REVERSAL]


def test_a_partner_deal_deleted_after_accrual_keeps_the_commission_with_a_notice(
    world: World,
) -> None:
    deal = world.agency_deal(2, ("amo",))
    engine = world.engine()
    engine.sync()
    (partner_deal,) = world.amo.deals.values()
    world.amo.user_edit(partner_deal.id, stage_id="142", amount=Money(Decimal("10000"), "RUB"))
    engine.sync()
    del world.amo.deals[partner_deal.id]  # the partner deletes the won deal
    # The nightly comparison notices the deletion.
    reconcile(
        engine.store,
        engine.mapping,
        engine.agency,
        {c: engine.partners[c] for c in engine.codes()},
        engine.clock(),
    )
    engine.sync()
    with world.store.transaction() as session:
        entries = book.read(session, partner="amo", deal_id=deal.id)
    assert [(e.kind, e.amount) for e in entries] == [
        (EntryKind.ACCRUAL, Decimal("2500.00")),
        (EntryKind.NOTICE, Decimal("0.00")),
    ]
    assert entries[1].ref == "orphaned" and entries[1].base == Decimal("2500.00")
