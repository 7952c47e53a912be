"""Edits made while the bridge is down, right after it died between a create and its commit.

Found by the state machine: the restarted pass plans the create again with the
agency deal's *current* values, finds the partner deal it had already created by
stamp and adopts it — and records the link as if the new draft had been written.
The partner deal still holds the old values, the stored sync state says both
sides agree, and no later pass ever corrects it: a lost change.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.model import Money
from tests.engine.world import World, make_world
from tests.reliability.invariants import Crms, check_invariants


class Crashed(BaseException):
    pass


def _crash_at(point: str) -> Callable[[str], None]:
    def crash(name: str) -> None:
        if name == point:
            raise Crashed(name)

    return crash


def _world(tmp_path: Path) -> World:
    return make_world(f"sqlite:///{tmp_path / 'bridge.db'}")


@pytest.mark.parametrize("point", ["after_remote_create", "before_local_commit"])
def test_an_edit_while_down_after_a_crash_mid_create_still_reaches_the_partner(
    tmp_path: Path, point: str
) -> None:
    world = _world(tmp_path)
    deal = world.agency_deal(1, ("amo",))
    with pytest.raises(Crashed):
        world.engine(crash=_crash_at(point)).sync()
    world.agency.user_edit(deal.id, amount=Money(Decimal("2000.00"), "RUB"), stage_id="C7:WORK")
    for _ in range(3):
        world.clock.advance(60)
        world.engine().sync()
    crms = Crms(world.agency, {"amo": world.amo, "b24": world.b24})
    report = check_invariants(
        crms,
        world.store,
        world.mapping,
        scenario="crash after create, agency edit while down (known bug)",
        faults=f"process death at {point}",
        changes=2,
        record=False,
    )
    world.close()
    report.assert_ok()


def test_without_an_edit_in_between_the_restart_is_clean(tmp_path: Path) -> None:
    world = _world(tmp_path)
    world.agency_deal(1, ("amo", "b24"))
    with pytest.raises(Crashed):
        world.engine(crash=_crash_at("after_remote_create")).sync()
    world.engine().sync()
    crms = Crms(world.agency, {"amo": world.amo, "b24": world.b24})
    report = check_invariants(
        crms,
        world.store,
        world.mapping,
        scenario="crash after remote create, immediate restart",
        faults="process death at after_remote_create",
        changes=1,
    )
    world.close()
    report.assert_ok()
