"""Engine integration over real HTTP against the example sandbox world (see http_world)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.mapping.compiled import CompiledMapping
from bridge.mapping.env import Environment
from bridge.mapping.resolve import resolve
from bridge.mapping.validate import load_mapping
from bridge.model import LinkStatus, Money
from bridge.store import audit, links
from bridge.store.tables import LinkRow
from sync.engine import Engine
from sync.sources.reconcile import reconcile
from tests.engine.http_world import HttpWorld, http_world


class Crashed(BaseException):
    """Stands in for the process dying at a crash point."""


@pytest.fixture
def hw(tmp_path: Path) -> Iterator[HttpWorld]:
    with http_world(tmp_path) as built:
        yield built


def _without_notes(mapping: CompiledMapping) -> CompiledMapping:
    partners = {
        code: dataclasses.replace(p, policies=dataclasses.replace(p.policies, mirror_notes=False))
        for code, p in mapping.partners.items()
    }
    return dataclasses.replace(mapping, partners=partners)


def _links(hw: HttpWorld, ids: list[str]) -> dict[tuple[str, str], LinkRow]:
    with hw.store.transaction() as session:
        return {(r.agency_deal_id, r.partner_code): r for r in links.by_agency_ids(session, ids)}


def test_routed_deals_appear_once_with_contact_stage_amount_and_quiet_second_pass(
    hw: HttpWorld,
) -> None:
    ids = hw.world.add_agency_deals(500, ("alfa", "beta"))
    alfa_before, beta_before = len(hw.world.alfa.lead_ids()), len(hw.world.beta.deal_ids())
    engine = hw.engine()
    report = engine.sync()
    assert report.errors == {}
    rows = _links(hw, ids)
    assert {r.status for r in rows.values()} == {LinkStatus.ACTIVE.value}
    for code, crm, before, now in (
        ("alfa", hw.crms["alfa"], alfa_before, len(hw.world.alfa.lead_ids())),
        ("beta", hw.crms["beta"], beta_before, len(hw.world.beta.deal_ids())),
    ):
        mine = [i for i in ids if (i, code) in rows]
        assert len(mine) == 250
        with hw.store.transaction() as session:
            linked = {r.partner_deal_id for r in links.for_partner(session, code)} - {None}
        assert now - before == len(linked)  # one partner deal per link, no duplicates
        found = crm.find_by_stamp(mine)
        assert sorted(found) == sorted(mine)
        sample = found[mine[7]]
        assert sample.amount == Money(Decimal(100_000 + ids.index(mine[7])), "RUB")
        assert sample.stage_id == rows[(mine[7], code)].partner_stage
        contacts = crm.fetch_contacts(list(sample.contact_ids))
        assert next(c.name for c in contacts.values()).startswith("Клиент")
    hw.world.advance(60)  # passes run one poll interval apart
    echo = engine.sync()
    assert echo.writes == 0  # our own creates come back as changes: recognised, not re-written
    hw.world.advance(60)
    served = hw.world.requests()
    quiet = engine.sync()
    assert quiet.writes == 0
    assert hw.world.requests() == {k: v + 1 for k, v in served.items()}  # one listing call per CRM


def test_partner_changes_and_conflicts_reach_the_agency(hw: HttpWorld) -> None:
    (a, b) = hw.world.add_agency_deals(2, ("alfa", "beta"))
    engine = hw.engine()
    engine.sync()
    rows = _links(hw, [a, b])
    lead = int(rows[(a, "alfa")].partner_deal_id or 0)
    pipeline = hw.world.alfa.pipeline_id("Партнёрские лиды")
    hw.world.alfa.update_lead(
        lead, {"status_id": hw.world.alfa.status_id(pipeline, "Договор"), "price": 777_000}
    )
    beta_deal = rows[(b, "beta")].partner_deal_id or ""
    hw.world.agency.update_deal(b, {"OPPORTUNITY": "111"})  # conflicts with the partner's edit
    hw.world.beta.update_deal(beta_deal, {"OPPORTUNITY": "222"})
    engine.sync()
    agency = hw.crms["agency"].fetch_deals([a, b])
    assert agency[a].stage_id == hw.world.stage("Договор подписан")
    assert agency[a].amount == Money(Decimal(777_000), "RUB")
    assert agency[b].amount == Money(Decimal(222), "RUB")
    with hw.store.transaction() as session:
        (conflict,) = [r for r in audit.trail(session, b) if r.action == "conflict"]
    assert conflict.winner == "partner" and "111" in (conflict.loser_value or "")


@pytest.mark.parametrize("point", ["after_remote_create", "before_local_commit"])
def test_crash_between_remote_create_and_commit_leaves_one_partner_deal(
    hw: HttpWorld, point: str
) -> None:
    ids = hw.world.add_agency_deals(60, ("alfa", "beta"))

    def crash(name: str) -> None:
        if name == point:
            raise Crashed(name)

    with pytest.raises(Crashed):
        hw.engine(crash=crash).sync()
    alfa_after_crash = len(hw.world.alfa.lead_ids())
    hw.engine().sync()  # the restarted daemon
    assert len(hw.world.alfa.lead_ids()) == alfa_after_crash
    rows = _links(hw, ids)
    assert len(rows) == 60 and all(r.partner_deal_id for r in rows.values())
    for code in ("alfa", "beta"):
        mine = [i for i in ids if (i, code) in rows]
        found = hw.crms[code].find_by_stamp(mine)
        assert {d.id for d in found.values()} == {rows[(i, code)].partner_deal_id for i in mine}


def _remap(hw: HttpWorld, engine: Engine) -> None:
    env = Environment(process=hw.world.env)
    report = resolve(load_mapping(hw.world.mapping_path, env), hw.crms)
    assert report.compiled is not None
    engine.update_mapping(report.compiled)


def test_renamed_partner_stage_parks_only_its_deals_until_fixed(hw: HttpWorld) -> None:
    (a, b) = hw.world.add_agency_deals(2, ("alfa",))
    engine = hw.engine()
    engine.sync()
    rows = _links(hw, [a, b])
    box = hw.world.alfa
    pipeline = box.pipeline_id("Партнёрские лиды")
    renamed = box.status_id(pipeline, "Квалификация")
    box.rename_status(pipeline, renamed, "Квалификация (новая)")
    _remap(hw, engine)
    box.update_lead(int(rows[(a, "alfa")].partner_deal_id or 0), {"status_id": renamed})
    box.update_lead(
        int(rows[(b, "alfa")].partner_deal_id or 0),
        {"status_id": box.status_id(pipeline, "Договор")},
    )
    engine.sync()
    rows = _links(hw, [a, b])
    assert rows[(a, "alfa")].status == LinkStatus.PARKED.value
    assert "Квалификация" in (rows[(a, "alfa")].park_reason or "")
    assert rows[(b, "alfa")].status == LinkStatus.ACTIVE.value
    box.rename_status(pipeline, renamed, "Квалификация")
    _remap(hw, engine)
    engine.sync()
    rows = _links(hw, [a, b])
    assert rows[(a, "alfa")].status == LinkStatus.ACTIVE.value
    assert hw.crms["agency"].fetch_deals([a])[a].stage_id == hw.world.stage("В работе у партнёра")


def test_deleted_partner_deal_is_found_by_reconcile(hw: HttpWorld) -> None:
    (a, b) = hw.world.add_agency_deals(2, ("beta",))
    engine = hw.engine()
    engine.sync()
    gone = _links(hw, [a])[(a, "beta")].partner_deal_id or ""
    hw.world.beta.delete_deal(gone)  # deleting changes no deal a listing would show
    assert _links(hw, [a])[(a, "beta")].status == LinkStatus.ACTIVE.value
    report = reconcile(
        engine.store,
        engine.mapping,
        engine.agency,
        {c: engine.partners[c] for c in engine.reachable()},
        engine.clock(),
        then=engine.sync,
    )
    assert report.missing == {"beta": [gone]}
    rows = _links(hw, [a, b])
    assert rows[(a, "beta")].status == LinkStatus.ORPHANED.value
    assert rows[(b, "beta")].status == LinkStatus.ACTIVE.value
    notes = hw.crms["agency"].list_notes(a)
    assert any(gone in n.text for n in notes)


def test_lost_create_answer_is_resolved_by_stamp_not_by_a_second_create(hw: HttpWorld) -> None:
    from bridge.sandbox.emulator import Fault, FaultKind

    engine = hw.engine()
    # Notes off, so the one batch the fault below hits is the creates (with notes on, the
    # pass would read the overlap's notes in a batch first).
    engine.update_mapping(_without_notes(hw.mapping))
    engine.sync()  # the daemon is running; the partner's pipelines are known
    ids = hw.world.add_agency_deals(6, ("beta",))
    before, linked = len(hw.world.beta.deal_ids()), len(_partner_links(hw, "beta"))
    # The partner portal runs the batch of creates, then the answer is lost.
    hw.world.beta.server.faults.arm(
        Fault(FaultKind.DROP_AFTER_COMMIT, method="batch", skip=1)
    )  # skip the listing
    hw.world.advance(60)
    engine.sync()
    assert hw.world.beta.server.faults.pending == 0  # the answer was indeed lost
    hw.world.advance(60)
    engine.sync()
    assert len(hw.world.beta.deal_ids()) - before == 6 == len(_partner_links(hw, "beta")) - linked
    found = hw.crms["beta"].find_by_stamp(ids)
    rows = _links(hw, ids)
    assert {d.id for d in found.values()} == {rows[(i, "beta")].partner_deal_id for i in ids}


def _partner_links(hw: HttpWorld, code: str) -> list[LinkRow]:
    with hw.store.transaction() as session:
        return [r for r in links.for_partner(session, code) if r.partner_deal_id]


def test_partner_5xx_burst_isolated_then_recovered(hw: HttpWorld) -> None:
    import datetime as dt

    from bridge.sandbox.emulator import Fault, FaultKind

    engine = hw.engine(retry_delay=dt.timedelta(0))
    engine.sync()
    ids = hw.world.add_agency_deals(10, ("alfa", "beta"))
    alfa_before, beta_before = len(hw.world.alfa.lead_ids()), len(hw.world.beta.deal_ids())
    hw.world.alfa.server.faults.arm(Fault(FaultKind.SERVER_ERROR, times=50, status=503))
    hw.world.advance(60)
    report = engine.sync()
    assert "alfa" in report.errors and "beta" not in report.errors
    assert len(hw.world.beta.deal_ids()) - beta_before == 5
    assert len(hw.world.alfa.lead_ids()) == alfa_before
    hw.world.alfa.server.faults.clear()
    hw.world.advance(60)
    report = engine.sync()
    assert report.errors == {}
    assert len(hw.world.alfa.lead_ids()) - alfa_before == 5
    assert sorted(hw.crms["alfa"].find_by_stamp(ids[0::2])) == sorted(ids[0::2])


def test_lost_amocrm_complex_answer_is_resolved_by_stamp(hw: HttpWorld) -> None:
    from bridge.sandbox.emulator import Fault, FaultKind

    engine = hw.engine()
    engine.sync()
    ids = hw.world.add_agency_deals(6, ("alfa",))
    before = len(hw.world.alfa.lead_ids())
    method = hw.world.alfa.app.api_method_of("POST", "/api/v4/leads/complex")
    hw.world.alfa.server.faults.arm(Fault(FaultKind.DROP_AFTER_COMMIT, method=method))
    hw.world.advance(60)
    engine.sync()
    assert hw.world.alfa.server.faults.pending == 0  # the answer was indeed lost
    assert len(hw.world.alfa.lead_ids()) - before == 6
    rows = _links(hw, ids)
    found = hw.crms["alfa"].find_by_stamp(ids)
    assert {d.id for d in found.values()} == {rows[(i, "alfa")].partner_deal_id for i in ids}


def test_revoked_partner_credentials_stop_only_that_partner(hw: HttpWorld) -> None:
    from bridge.amocrm.client import AmoCrm
    from bridge.amocrm.oauth import LongLivedToken
    from bridge.ratelimit import Pacer
    from bridge.secrets import Secret
    from bridge.store import health

    engine = hw.engine()
    engine.sync()
    good = engine.partners["alfa"]
    engine.partners["alfa"] = AmoCrm(
        hw.world.alfa.base_url,
        LongLivedToken(Secret("revoked-token-0000000000")),
        system=good.system,
        pacer=Pacer(rate=10_000, burst=10_000),
        retry_wait=0.01,
    )
    hw.world.add_agency_deals(4, ("alfa", "beta"))
    beta_before = len(hw.world.beta.deal_ids())
    hw.world.advance(60)
    report = engine.sync()
    assert set(report.errors) == {"alfa"}
    assert "revoked-token" not in report.errors["alfa"]
    assert len(hw.world.beta.deal_ids()) - beta_before == 2
    with hw.store.transaction() as session:
        row = health.all_rows(session)["alfa"]
    assert row.error_kind is not None and "Auth" in row.error_kind
    engine.partners["alfa"].close()
