"""Amount precision per CRM through the real sync path (issue 17: cases 3 and 9).

amoCRM keeps a lead's budget in whole units. An agency amount with kopecks parks by
default; ``policies.round: down|nearest`` sends it rounded, with an audit line, and
``fields: {amount: null}`` leaves the amount unmirrored — nothing parks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from bridge.model import LinkStatus, Money
from bridge.sandbox.world import EXAMPLE_MAPPING, FIRST_STAGE
from bridge.store import audit, links
from tests.engine.http_world import HttpWorld, http_world

ALFA = "    paused: false               # true stops syncing this partner; links are kept\n"
PAID = "    fields:\n      paid:                     # a partner-only field reported back"


@contextmanager
def _world(tmp_path: Path, old: str, new: str) -> Iterator[HttpWorld]:
    text = EXAMPLE_MAPPING.read_text("utf-8")
    assert old in text, old
    with http_world(tmp_path / "world", mapping_text=text.replace(old, new, 1)) as hw:
        yield hw


def _deal(hw: HttpWorld, amount: str) -> str:
    return hw.world.agency.add_deal(
        {
            "TITLE": "Сайт с копейками",
            "CATEGORY_ID": int(hw.mapping.agency.pipeline_id),
            "STAGE_ID": hw.world.stage(FIRST_STAGE),
            "OPPORTUNITY": amount,
            "CURRENCY_ID": "RUB",
            "UF_CRM_PARTNER": [hw.world.routing("alfa")],
        }
    )


def _lead_price(hw: HttpWorld, agency_id: str) -> Money | None:
    return hw.crms["alfa"].find_by_stamp([agency_id])[agency_id].amount


def _agency_amount(hw: HttpWorld, agency_id: str) -> Money | None:
    return hw.crms["agency"].fetch_deals([agency_id])[agency_id].amount


def _link(hw: HttpWorld, agency_id: str) -> tuple[str, str | None]:
    with hw.store.transaction() as session:
        (row,) = [r for r in links.by_agency_ids(session, [agency_id]) if r.partner_code == "alfa"]
    return row.status, row.park_reason


def test_by_default_an_amount_with_kopecks_parks_for_amocrm(tmp_path: Path) -> None:
    with _world(tmp_path, ALFA, ALFA) as hw:
        deal = _deal(hw, "15000.50")
        hw.engine().sync()
        status, reason = _link(hw, deal)
        assert status == LinkStatus.PARKED.value
        assert "amoCRM keeps a budget as a whole number" in (reason or "")
        assert "policies.round" in (reason or "")


def test_round_down_sends_whole_units_and_audits_each_rounding(tmp_path: Path) -> None:
    with _world(tmp_path, ALFA, ALFA + "    policies: {round: down}\n") as hw:
        deal = _deal(hw, "15000.50")
        engine = hw.engine()
        engine.sync()
        assert _link(hw, deal) == (LinkStatus.ACTIVE.value, None)
        assert _lead_price(hw, deal) == Money(Decimal(15000), "RUB")
        assert _agency_amount(hw, deal) == Money(Decimal("15000.50"), "RUB"), "agency keeps it"
        with hw.store.transaction() as session:
            (line,) = [r for r in audit.trail(session, deal, "alfa") if r.action == "rounded"]
        assert line.old_value == "15000.5 RUB" and line.new_value == "15000 RUB"
        assert "rounded down to 15000 RUB" in (line.detail or "")
        assert "policies.round: down" in (line.detail or "")

        # The rounded copy is the bridge's own: the next pass writes nothing back.
        hw.world.advance(60)
        assert engine.sync().writes == 0
        # The agency raises the amount: the partner gets it rounded again, audited again.
        hw.world.agency.update_deal(deal, {"OPPORTUNITY": "17250.99"})
        hw.world.advance(60)
        engine.sync()
        assert _lead_price(hw, deal) == Money(Decimal(17250), "RUB")
        with hw.store.transaction() as session:
            rounded = [r for r in audit.trail(session, deal, "alfa") if r.action == "rounded"]
        assert [r.new_value for r in rounded] == ["15000 RUB", "17250 RUB"]


def test_round_nearest_rounds_half_up(tmp_path: Path) -> None:
    with _world(tmp_path, ALFA, ALFA + "    policies: {round: nearest}\n") as hw:
        up, down = _deal(hw, "15000.50"), _deal(hw, "9999.49")
        hw.engine().sync()
        assert _lead_price(hw, up) == Money(Decimal(15001), "RUB")
        assert _lead_price(hw, down) == Money(Decimal(9999), "RUB")


def test_amount_null_leaves_the_amount_unmirrored_and_nothing_parks(tmp_path: Path) -> None:
    with _world(
        tmp_path, PAID, PAID.replace("    fields:\n", "    fields:\n      amount: null\n")
    ) as hw:
        assert not hw.mapping.partners["alfa"].amount_mirrored
        deal = _deal(hw, "15000.50")  # amoCRM could not hold it: no matter, it is not sent
        engine = hw.engine()
        engine.sync()
        assert _link(hw, deal) == (LinkStatus.ACTIVE.value, None)
        price = _lead_price(hw, deal)
        assert price is None or price.amount == 0, price
        lead = hw.crms["alfa"].find_by_stamp([deal])[deal]
        hw.world.alfa.update_lead(int(lead.id), {"price": 99000})  # the partner's own figure
        hw.world.advance(60)
        engine.sync()
        assert _agency_amount(hw, deal) == Money(Decimal("15000.50"), "RUB"), "not mirrored back"
        assert _link(hw, deal) == (LinkStatus.ACTIVE.value, None)
