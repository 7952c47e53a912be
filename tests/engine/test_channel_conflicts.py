"""Channel conflicts in the sync path: flagged on the agency deal, held until confirmed."""

from __future__ import annotations

import dataclasses

from bridge.channels.conflicts import confirm
from bridge.model import LinkStatus
from bridge.store import links
from tests.engine.world import World


def _hold_everywhere(world: World) -> None:
    partners = {
        code: dataclasses.replace(
            p, policies=dataclasses.replace(p.policies, hold_on_channel_conflict=True)
        )
        for code, p in world.mapping.partners.items()
    }
    world.mapping = dataclasses.replace(world.mapping, partners=partners)


def test_a_client_sent_to_another_partner_is_flagged_held_and_released(world: World) -> None:
    _hold_everywhere(world)
    first = world.agency_deal(1, ("amo",))
    world.engine().sync()
    same_client = world.agency_deal(2, ("b24",))  # same phone as deal 1 (see world.agency_deal)

    world.engine().sync()

    assert [d.stamp for d in world.b24.deals.values()] == [], "held: nothing sent to b24"
    (comment,) = world.agency.list_notes(same_client.id)
    assert "уже передавался" in comment.text and first.id in comment.text
    with world.store.transaction() as session:
        (row,) = links.by_agency_ids(session, [same_client.id])
        assert row.status == LinkStatus.PARKED.value
        assert f"bridge channels confirm {same_client.id} b24" in (row.park_reason or "")
        assert confirm(
            session, same_client.id, "b24", world.clock(), agency_system="bitrix24:agency"
        )

    world.clock.advance(60)
    world.engine().sync()

    assert [d.stamp for d in world.b24.deals.values()] == [same_client.id]
    assert len(world.agency.list_notes(same_client.id)) == 1, "flagged and commented once"


def test_without_hold_the_deal_goes_out_and_the_agency_is_told(world: World) -> None:
    world.agency_deal(1, ("amo",))
    world.engine().sync()
    second = world.agency_deal(2, ("b24",))
    world.engine().sync()
    assert [d.stamp for d in world.b24.deals.values()] == [second.id]
    assert len(world.agency.list_notes(second.id)) == 1


def test_fan_out_of_one_deal_is_not_a_conflict(world: World) -> None:
    deal = world.agency_deal(5, ("amo", "b24"))
    world.engine().sync()
    assert world.agency.list_notes(deal.id) == []
