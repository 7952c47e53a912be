"""A console re-route, then the engine's next pass: the old link closes, the new one opens.

Runs the real engine over CRMs in memory (tests.engine.world): the pass is driven by
the hint the re-route queued (``poll=False`` handles queued hints only).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from bridge.secrets import Secret
from bridge.store.tables import LinkRow
from sync.web import actions
from sync.web.context import WebContext, signing_key
from tests.engine.world import ROUTING, World, make_world


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    built = make_world(db_url)
    yield built
    built.close()


def test_the_next_pass_moves_the_deal_to_the_new_partner(world: World) -> None:
    deal = world.agency_deal(1, ("amo",))
    world.engine().sync()
    ctx = WebContext(
        store=world.store,
        mapping=lambda: world.mapping,
        admin_token=Secret("t" * 32),
        key=signing_key(None, Secret("t" * 32)),
        clock=world.clock,
        agency_crm=lambda: world.agency,
    )
    actions.reroute(ctx, "Ольга", deal.id, "amo", "b24")
    assert world.agency.deals[deal.id].fields[ROUTING] == ("opt-b24",)
    world.clock.advance(1)
    world.engine().sync(poll=False)
    with world.store.transaction() as db:
        states = {r.partner_code: r.status for r in db.exec(select(LinkRow))}
    assert states == {"amo": "closed", "b24": "active"}
    assert [d.title for d in world.b24.deals.values()] == ["Сделка 1"]
