"""A small world for planner tests: one agency pipeline, two partners, and a pure "apply".

The apply helpers play the CRMs: they turn the planner's write operations into new
snapshots, the way an adapter would, so tests can re-plan on what a CRM would
return. They are tested here so the property tests can trust them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypedDict, Unpack

from bridge.canonical import synced_from_json, synced_to_json
from bridge.mapping.compiled import (
    AgencyConfig,
    Broken,
    Commission,
    CompiledMapping,
    Connection,
    Converter,
    ConverterKind,
    CrmKind,
    Direction,
    FieldEnd,
    FieldMap,
    PartnerConfig,
    Policies,
    Side,
    StageMap,
    Target,
)
from bridge.model import (
    Company,
    Contact,
    Deal,
    DealDraft,
    DealPatch,
    FieldValue,
    LinkState,
    LinkStatus,
    Money,
    Note,
    Pipeline,
    Semantics,
    Stage,
)
from bridge.secrets import Secret
from sync.plan import plan_agency_deal
from sync.plan.types import (
    AddNote,
    AgencyExtras,
    CreatePartnerDeal,
    LinkPlan,
    Operation,
    PartnerExtras,
    UpdateDeal,
)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ROUTING = "UF_CRM_PARTNER"
AGENCY_PIPELINE = Pipeline(
    "5",
    "Партнёрская воронка",
    (
        Stage("C5:NEW", "Новая", "5", Semantics.OPEN, 10),
        Stage("C5:WORK", "В работе", "5", Semantics.OPEN, 20),
        Stage("C5:HOLD", "Пауза", "5", Semantics.OPEN, 30),
        Stage("C5:WON", "Успешно", "5", Semantics.WON, 40),
        Stage("C5:LOSE", "Провал", "5", Semantics.LOST, 50),
        Stage("C5:JUNK", "Спам", "5", Semantics.LOST, 60),
    ),
)
PARTNER_PIPELINE = Pipeline(
    "777",
    "Лиды от агентства",
    (
        Stage("101", "Первичный контакт", "777", Semantics.OPEN, 10),
        Stage("102", "Переговоры", "777", Semantics.OPEN, 20),
        Stage("103", "Бриф у клиента", "777", Semantics.OPEN, 30),
        Stage("142", "Успешно реализовано", "777", Semantics.WON, 40),
        Stage("143", "Закрыто и не реализовано", "777", Semantics.LOST, 50),
    ),
)
STAGES = StageMap(
    to_partner={"C5:NEW": "101", "C5:WORK": "102"},
    to_agency={"101": "C5:NEW", "102": "C5:WORK", "143": "C5:LOSE"},
)
KIND = Converter(
    ConverterKind.ENUM,
    to_partner={"61": "9001", "62": "9002"},
    to_agency={"9001": "61", "9002": "62"},
)
USERS = Converter(ConverterKind.USER, to_partner={"1": "u-anna", "7": "u-boris"})


def _end(field_id: str, label: str) -> FieldEnd:
    return FieldEnd(Target.CUSTOM, label, field_id)


FIELDS = (
    FieldMap(
        "brief",
        _end("UF_CRM_BRIEF", "Бриф"),
        _end("5001", "Бриф"),
        Direction.TO_PARTNER,
        Converter(ConverterKind.TEXT),
    ),
    FieldMap(
        "kind",
        _end("UF_CRM_KIND", "Тип"),
        _end("5002", "Тип"),
        Direction.BOTH,
        KIND,
        owner=Side.AGENCY,
    ),
    FieldMap(
        "paid",
        _end("UF_CRM_PAID", "Оплачено"),
        _end("5003", "Оплачено"),
        Direction.TO_AGENCY,
        Converter(ConverterKind.MONEY),
    ),
    FieldMap(
        "deadline",
        _end("UF_CRM_DEADLINE", "Срок"),
        _end("5004", "Срок"),
        Direction.BOTH,
        Converter(ConverterKind.DATE),
        owner=Side.PARTNER,
    ),
    FieldMap(
        "manager",
        FieldEnd(Target.RESPONSIBLE, "responsible"),
        FieldEnd(Target.RESPONSIBLE, "responsible"),
        Direction.TO_PARTNER,
        USERS,
    ),
    FieldMap(
        "client_phone",
        _end("UF_CRM_PHONE", "Телефон клиента"),
        FieldEnd(Target.CONTACT_PHONE, "contact.phone"),
        Direction.TO_PARTNER,
        Converter(ConverterKind.PHONE),
    ),
)


def connection() -> Connection:
    return Connection(CrmKind.AMOCRM, Secret("https://example.invalid"))


class PartnerOverrides(TypedDict, total=False):
    """What a test may change in partner ``atwinta``'s configuration."""

    connection: Connection
    stages: StageMap
    fields: tuple[FieldMap, ...]
    commission: Commission
    policies: Policies
    paused: bool
    broken_fields: tuple[Broken, ...]


def partner(code: str, routing_value: str, **overrides: Unpack[PartnerOverrides]) -> PartnerConfig:
    config = PartnerConfig(
        code=code,
        name=code.capitalize(),
        connection=connection(),
        pipeline_id="777",
        pipeline_name="Лиды от агентства",
        routing_value=routing_value,
        stages=STAGES,
        fields=FIELDS,
        commission=Commission(),
        policies=Policies(),
    )
    return dataclasses.replace(config, **overrides)


def world(**overrides: Unpack[PartnerOverrides]) -> CompiledMapping:
    """Agency pipeline 5, partners ``atwinta`` (option 11) and ``kodix`` (option 12)."""
    agency = AgencyConfig(connection(), "5", "Партнёрская воронка", ROUTING, routing_multiple=True)
    partners = {"atwinta": partner("atwinta", "11", **overrides), "kodix": partner("kodix", "12")}
    return CompiledMapping(version=1, agency=agency, partners=partners)


class DealChanges(TypedDict, total=False):
    """Deal attributes a person may edit in a CRM (fields go separately)."""

    title: str
    pipeline_id: str
    stage_id: str
    amount: Money | None
    responsible_id: str | None


class DealOverrides(DealChanges, total=False):
    """What a test may set on the agency deal; ``fields`` add to the defaults."""

    id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    fields: Mapping[str, FieldValue]


def agency_deal(**overrides: Unpack[DealOverrides]) -> Deal:
    fields: dict[str, FieldValue] = {
        ROUTING: ("11",),
        "UF_CRM_BRIEF": "Сайт на Битриксе, бюджет 300 тыс.",
        "UF_CRM_KIND": "61",
        "UF_CRM_PHONE": "8 (916) 123-45-67",
    }
    fields.update(overrides.pop("fields", {}))
    deal = Deal(
        id="4242",
        title="Сайт для ООО «Ромашка»",
        pipeline_id="5",
        stage_id="C5:NEW",
        amount=Money(Decimal("300000.00"), "RUB"),
        created_at=T0,
        updated_at=T0,
        responsible_id="1",
        fields=fields,
    )
    return dataclasses.replace(deal, **overrides)


CONTACT = Contact("Иван Петров", phones=("8 916 123-45-67",), emails=(" Ivan@Romashka.RU ",))
COMPANY = Company("ООО «Ромашка»", tax_id="7701234567")
AGENCY = AgencyExtras(contact=CONTACT, company=COMPANY, pipeline=AGENCY_PIPELINE)
PARTNERS = {
    "atwinta": PartnerExtras(pipeline=PARTNER_PIPELINE),
    "kodix": PartnerExtras(pipeline=PARTNER_PIPELINE),
}


# --- the pure "CRM" --------------------------------------------------------------------


def deal_from_draft(draft: DealDraft, deal_id: str, at: dt.datetime) -> Deal:
    return Deal(
        id=deal_id,
        title=draft.title,
        pipeline_id=draft.pipeline_id,
        stage_id=draft.stage_id,
        amount=draft.amount,
        created_at=at,
        updated_at=at,
        responsible_id=draft.responsible_id,
        stamp=draft.stamp,
        fields=dict(draft.fields),
    )


def apply_patch(deal: Deal, patch: DealPatch, at: dt.datetime) -> Deal:
    assert patch.deal_id == deal.id
    changes: DealChanges = {}
    if patch.title is not None:
        changes["title"] = patch.title
    if patch.pipeline_id is not None:
        changes["pipeline_id"] = patch.pipeline_id
    if patch.stage_id is not None:
        changes["stage_id"] = patch.stage_id
    if patch.amount is not None:
        changes["amount"] = patch.amount
    if patch.responsible_id is not None:
        changes["responsible_id"] = patch.responsible_id
    fields = {**deal.fields, **patch.fields}
    return dataclasses.replace(deal, fields=fields, updated_at=at, **changes)


@dataclasses.dataclass
class Sides:
    """Both CRMs and the store, for one agency deal."""

    agency: Deal
    partners: dict[str, Deal | None] = dataclasses.field(default_factory=dict)
    links: dict[str, LinkState] = dataclasses.field(default_factory=dict)
    agency_notes: list[Note] = dataclasses.field(default_factory=list)
    partner_notes: dict[str, list[Note]] = dataclasses.field(default_factory=dict)
    clock: dt.datetime = T0

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(minutes=1)
        return self.clock

    def plan(self, mapping: CompiledMapping) -> list[LinkPlan]:
        agency = dataclasses.replace(AGENCY, notes=tuple(self.agency_notes))
        partners = {
            code: dataclasses.replace(extras, notes=tuple(self.partner_notes.get(code, ())))
            for code, extras in PARTNERS.items()
        }
        # The engine searched every partner by stamp: None = "no deal there".
        searched: dict[str, Deal | None] = {code: None for code in mapping.partners}
        return plan_agency_deal(
            self.agency,
            self.links,
            {**searched, **self.partners},
            mapping,
            now=self.tick(),
            agency=agency,
            partners=partners,
        )

    def apply(self, plans: list[LinkPlan]) -> None:
        for plan in plans:
            code = plan.link_key[1]
            state = plan.next_state
            for op in plan.operations:
                state = self._apply_op(code, op, state)
            # The store keeps ``synced`` as JSON: every test goes through that round trip.
            stored = synced_from_json(synced_to_json(state.synced))
            self.links[code] = dataclasses.replace(state, synced=stored)

    def _apply_op(self, code: str, op: object, state: LinkState) -> LinkState:
        at = self.tick()
        if isinstance(op, CreatePartnerDeal):
            new_id = f"p-{code}-{len(self.partners) + 1}"
            self.partners[code] = deal_from_draft(op.draft, new_id, at)
            return state.bound_to(new_id)
        if isinstance(op, UpdateDeal) and op.side is Side.AGENCY:
            self.agency = apply_patch(self.agency, op.patch, at)
        elif isinstance(op, UpdateDeal):
            current = self.partners[code]
            assert current is not None
            self.partners[code] = apply_patch(current, op.patch, at)
        elif isinstance(op, AddNote):
            note = dataclasses.replace(op.note, created_at=at)
            target = (
                self.agency_notes
                if op.side is Side.AGENCY
                else self.partner_notes.setdefault(code, [])
            )
            target.append(note)
        return state

    def status(self, code: str = "atwinta") -> LinkStatus:
        """The stored status of ``code``'s link, read afresh (no narrowing carries over)."""
        return self.links[code].status

    def run(self, mapping: CompiledMapping) -> list[LinkPlan]:
        plans = self.plan(mapping)
        self.apply(plans)
        return plans


def writes(plans: Sequence[LinkPlan]) -> list[Operation]:
    return [op for plan in plans for op in plan.writes]


def updates(plans: Sequence[LinkPlan]) -> list[UpdateDeal]:
    """The write operations of ``plans``, each checked to be a deal update."""
    ops = writes(plans)
    assert all(isinstance(op, UpdateDeal) for op in ops), ops
    return [op for op in ops if isinstance(op, UpdateDeal)]


def partner_deal(sides: Sides, code: str = "atwinta") -> Deal:
    deal = sides.partners[code]
    assert deal is not None
    return deal


def edit(
    deal: Deal,
    at: dt.datetime,
    fields: Mapping[str, FieldValue] | None = None,
    **changes: Unpack[DealChanges],
) -> Deal:
    """A person editing a deal in its CRM."""
    merged = {**deal.fields, **(fields or {})}
    return dataclasses.replace(deal, fields=merged, updated_at=at, **changes)


# --- tests of the helpers themselves ------------------------------------------------------


def test_apply_patch_merges_fields_and_keeps_untouched_attributes() -> None:
    deal = agency_deal()
    patch = DealPatch(deal_id="4242", stage_id="C5:WORK", fields={"UF_CRM_KIND": None})
    later = T0 + dt.timedelta(hours=1)
    patched = apply_patch(deal, patch, later)
    assert patched.stage_id == "C5:WORK"
    assert patched.fields["UF_CRM_KIND"] is None
    assert patched.fields["UF_CRM_BRIEF"] == deal.fields["UF_CRM_BRIEF"]
    assert patched.title == deal.title and patched.amount == deal.amount
    assert patched.updated_at == later


def test_sides_run_creates_then_settles() -> None:
    sides = Sides(agency_deal())
    first = sides.run(world())
    assert [type(op) for op in writes(first)] == [CreatePartnerDeal]
    assert partner_deal(sides).stamp == "4242"
    assert writes(sides.run(world())) == []
