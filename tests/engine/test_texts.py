"""texts: overrides reach the statement and the channel-conflict comment."""

from __future__ import annotations

import dataclasses

from bridge.ledger.locale import Texts
from bridge.mapping.texts import notice_overrides, statement_overrides
from tests.engine.world import World

OVERRIDES = {
    "ru": {
        "title": "Сверка комиссий",
        "channel_conflict": "Внимание: клиент уже был у «{partner}» ({date}, сделка {deal})",
    }
}


def test_the_split_goes_to_the_right_catalog() -> None:
    assert statement_overrides(OVERRIDES, "ru") == {"title": "Сверка комиссий"}
    assert set(notice_overrides(OVERRIDES)["ru"]) == {"channel_conflict"}
    assert Texts("ru", statement_overrides(OVERRIDES, "ru"))["title"] == "Сверка комиссий"


def test_a_conflict_comment_uses_the_agencys_wording(world: World) -> None:
    world.mapping = dataclasses.replace(world.mapping, texts=OVERRIDES)
    world.agency_deal(1, ("amo",))
    world.engine().sync()
    second = world.agency_deal(2, ("b24",))
    world.engine().sync()
    (note,) = world.agency.list_notes(second.id)
    assert note.text.startswith("[partner-bridge] Внимание: клиент уже был у «")
