"""AmoCrm details the contract suite does not pin down, against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from bridge.amocrm.client import AmoCrm
from bridge.amocrm.oauth import LongLivedToken
from bridge.amocrm.transport import Reply
from bridge.crm import NotFound
from bridge.model import DealPatch, FieldKind, Money, Semantics
from bridge.ratelimit import Pacer
from bridge.sandbox.amocrm.account import AmoSandbox
from bridge.secrets import Secret


@pytest.fixture
def sandbox() -> Iterator[AmoSandbox]:
    with AmoSandbox(seed="demo", rate_limit=None) as running:
        yield running


def _adapter(sandbox: AmoSandbox) -> AmoCrm:
    return AmoCrm(
        sandbox.base_url,
        LongLivedToken(Secret(sandbox.long_lived_token)),
        system="amocrm:partner",
        pacer=Pacer(1000, 1000),
        retry_wait=0.01,
    )


@pytest.fixture
def crm(sandbox: AmoSandbox) -> Iterator[AmoCrm]:
    adapter = _adapter(sandbox)
    yield adapter
    adapter.close()


def _lead(sandbox: AmoSandbox) -> str:
    return str(sandbox.lead_ids()[0])


def test_select_field_round_trips_by_option_id(sandbox: AmoSandbox, crm: AmoCrm) -> None:
    source = next(f for f in crm.custom_fields() if f.name == "Источник")
    assert source.kind is FieldKind.ENUM and len(source.options) >= 2
    option = source.options[1]
    lead = _lead(sandbox)
    (result,) = crm.update_deals([DealPatch(lead, fields={source.id: option.id})])
    assert result.ok, result.error
    assert crm.fetch_deals([lead])[lead].fields[source.id] == option.id


def test_a_field_created_after_caching_is_written_with_its_kind(
    sandbox: AmoSandbox, crm: AmoCrm
) -> None:
    crm.custom_fields()  # definitions cached
    spec = {"name": "Канал", "type": "select", "enums": [{"value": "Сайт"}, {"value": "Звонок"}]}
    field_id = str(sandbox.add_field("leads", spec))
    elsewhere = _adapter(sandbox)  # how the mapping learnt the option id
    try:
        field = next(f for f in elsewhere.custom_fields() if f.id == field_id)
    finally:
        elsewhere.close()
    option = field.options[1]
    lead = _lead(sandbox)
    (result,) = crm.update_deals([DealPatch(lead, fields={field_id: option.id})])
    assert result.ok, result.error
    assert crm.fetch_deals([lead])[lead].fields[field_id] == option.id


def test_stamp_field_is_created_once_and_hidden_from_the_catalogue(
    sandbox: AmoSandbox, crm: AmoCrm
) -> None:
    first = crm.ensure_stamp_field()
    other = _adapter(sandbox)
    try:
        assert other.ensure_stamp_field() == first, "a second process finds the same field"
    finally:
        other.close()
    assert first not in {f.id for f in crm.custom_fields()}


def test_find_by_stamp_sees_a_stamp_field_another_process_created_later(
    sandbox: AmoSandbox, crm: AmoCrm
) -> None:
    crm.custom_fields()  # cached while no stamp field exists
    assert crm.find_by_stamp(["agency-1"]) == {}
    other = _adapter(sandbox)  # another worker creates the field and a stamped lead
    try:
        other.ensure_stamp_field()
        lead = _lead(sandbox)
        (result,) = other.update_deals([DealPatch(lead, title="с меткой")])
        assert result.ok
        stamp_id = other.ensure_stamp_field()
        sandbox.update_lead(
            int(lead),
            {
                "custom_fields_values": [
                    {"field_id": int(stamp_id), "values": [{"value": "agency-1"}]}
                ]
            },
        )
    finally:
        other.close()
    found = crm.find_by_stamp(["agency-1"])
    assert found["agency-1"].id == lead, "a stale 'no stamp field' must not hide stamped leads"


def test_moving_to_lost_fills_in_the_pipeline(sandbox: AmoSandbox, crm: AmoCrm) -> None:
    lead = _lead(sandbox)
    before = crm.fetch_deals([lead])[lead]
    pipeline = next(p for p in crm.pipelines() if p.id == before.pipeline_id)
    lost = next(s for s in pipeline.stages if s.semantics is Semantics.LOST)
    (result,) = crm.update_deals([DealPatch(lead, stage_id=lost.id)])
    assert result.ok, result.error
    after = crm.fetch_deals([lead])[lead]
    assert (after.pipeline_id, after.stage_id) == (before.pipeline_id, lost.id)


def test_fractional_amount_is_an_item_error_not_a_rounded_write(
    sandbox: AmoSandbox, crm: AmoCrm
) -> None:
    lead = _lead(sandbox)
    before = crm.fetch_deals([lead])[lead].amount
    results = crm.update_deals(
        [DealPatch(lead, amount=Money(Decimal("10.50"), "RUB")), DealPatch(lead, title="Ок")]
    )
    assert results[0].error is not None and "whole" in str(results[0].error)
    assert results[1].ok
    assert crm.fetch_deals([lead])[lead].amount == before


def test_notes_of_an_unknown_lead(crm: AmoCrm) -> None:
    with pytest.raises(NotFound):
        crm.list_notes("999999994")
    with pytest.raises(NotFound):
        crm.list_notes("../account")


def test_find_stamp_field_reports_without_creating(sandbox: AmoSandbox, crm: AmoCrm) -> None:
    assert crm.find_stamp_field() is None
    assert crm.find_stamp_field() is None, "looking never creates it"
    created = crm.ensure_stamp_field()
    other = _adapter(sandbox)
    try:
        assert other.find_stamp_field() == created
    finally:
        other.close()


def test_a_stage_move_names_the_pipeline_that_holds_the_stage(
    sandbox: AmoSandbox, crm: AmoCrm, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = _lead(sandbox)
    before = crm.fetch_deals([lead])[lead]
    others = [p for p in crm.pipelines() if p.id != before.pipeline_id] or list(crm.pipelines())
    target = others[0]
    stage = next(s for s in target.stages if s.semantics is Semantics.OPEN)
    sent: list[object] = []
    request = crm.transport.request

    def recording(
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool = True,
    ) -> Reply:
        if method == "PATCH":
            sent.append(body)
        return request(method, path, params=params, body=body, idempotent=idempotent)

    monkeypatch.setattr(crm.transport, "request", recording)
    (result,) = crm.update_deals([DealPatch(lead, stage_id=stage.id)])
    assert result.ok, result.error
    assert sent == [[{"id": int(lead), "pipeline_id": int(target.id), "status_id": int(stage.id)}]]
    after = crm.fetch_deals([lead])[lead]
    assert (after.pipeline_id, after.stage_id) == (target.id, stage.id)
