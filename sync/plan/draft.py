"""The new partner deal: mapped fields, stage, client contact and company, stamp.

The draft starts from the agency deal's title, the partner pipeline and the
agency deal id as the stamp; the agency contact and company travel with it
(phones in E.164, e-mails lower-cased). Every slot that flows to the partner is
translated; a refusal anywhere makes the whole draft refused — the deal is parked
with all the reasons, never created half-mapped. The stage comes from the stage
map, else the map's ``initial_partner_stage``, else the deal is parked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from bridge.mapping.compiled import Direction, FieldEnd, PartnerConfig, Target
from bridge.model import (
    CanonicalValue,
    Company,
    Contact,
    Deal,
    DealDraft,
    FieldValue,
    LinkKey,
    Money,
)
from bridge.phones import mirrored as mirrored_phone
from sync.plan.convert import Ok, Refused, Result
from sync.plan.fields import Pair
from sync.plan.slots import Slot, to_field_value


@dataclass(frozen=True, slots=True)
class DraftOutcome:
    draft: DealDraft | None
    pairs: dict[str, Pair] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


def _texts(value: CanonicalValue) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, tuple) else (str(value),)


def _base_contact(contact: Contact | None) -> Contact | None:
    if contact is None:
        return None
    phones = tuple(dict.fromkeys(mirrored_phone(p) for p in contact.phones if p.strip()))
    emails = tuple(dict.fromkeys(e.strip().lower() for e in contact.emails if e.strip()))
    return Contact(name=contact.name.strip(), phones=phones, emails=emails)


def _base_company(company: Company | None) -> Company | None:
    if company is None:
        return None
    phones = tuple(dict.fromkeys(mirrored_phone(p) for p in company.phones if p.strip()))
    emails = tuple(dict.fromkeys(e.strip().lower() for e in company.emails if e.strip()))
    return Company(company.name.strip(), phones, emails, company.tax_id)


class _DraftBuilder:
    def __init__(
        self,
        deal: Deal,
        partner: PartnerConfig,
        key: LinkKey,
        extras: tuple[Contact | None, Company | None],
    ) -> None:
        self.values: dict[str, object] = {
            "key": f"{key[0]}:{key[1]}",
            "title": deal.title,
            "pipeline_id": partner.pipeline_id,
            "stage_id": "",
            "stamp": deal.id,
        }
        self.fields: dict[str, FieldValue] = {}
        self.contact = _base_contact(extras[0])
        self.company = _base_company(extras[1])

    def put(self, end: FieldEnd, value: CanonicalValue) -> CanonicalValue:
        """Place ``value`` at ``end``; return what the partner will read back there."""
        if value is None:
            return None  # a new deal starts empty: nothing to send
        if end.target is Target.CUSTOM and end.field_id:
            self.fields[end.field_id] = to_field_value(value)
            return value
        if end.target is Target.TITLE:
            self.values["title"] = str(value)
        elif end.target is Target.AMOUNT and isinstance(value, Money):
            self.values["amount"] = value
        elif end.target is Target.RESPONSIBLE:
            self.values["responsible_id"] = str(value)
        else:
            self._put_party(end.target, value)
        return value

    def _put_party(self, target: Target, value: CanonicalValue) -> None:
        contact = self.contact or Contact(name="")
        company = self.company or Company(name="")
        if target is Target.CONTACT_NAME:
            self.contact = dataclasses.replace(contact, name=str(value))
        elif target is Target.CONTACT_PHONE:
            self.contact = dataclasses.replace(contact, phones=_texts(value))
        elif target is Target.CONTACT_EMAIL:
            self.contact = dataclasses.replace(contact, emails=_texts(value))
        elif target is Target.COMPANY_NAME:
            self.company = dataclasses.replace(company, name=str(value))
        elif target is Target.COMPANY_TAX_ID:
            self.company = dataclasses.replace(company, tax_id=str(value))

    def build(self) -> DealDraft:
        contact = self.contact
        if contact is not None and not contact.name:
            contact = dataclasses.replace(contact, name=str(self.values["title"]))
        return DealDraft(
            **self.values,  # type: ignore[arg-type]
            contact=contact,
            company=self.company,
            fields=self.fields,
        )


def build_draft(
    slots: tuple[Slot, ...],
    deal: Deal,
    partner: PartnerConfig,
    key: LinkKey,
    parties: tuple[Contact | None, Company | None],
) -> DraftOutcome:
    """The partner deal to create for ``deal``, the pairs to record, or the refusals."""
    builder = _DraftBuilder(deal, partner, key, parties)
    pairs: dict[str, Pair] = {}
    reasons: list[str] = []
    for slot in slots:
        agency_value = slot.rule.read_agency(deal)
        if slot.rule.direction is Direction.TO_AGENCY:
            pairs[slot.rule.name] = (agency_value, None)
            continue
        result = slot.rule.to_partner(agency_value)
        if slot.partner is None:
            result = _initial_stage(result, partner, agency_value)
        if isinstance(result, Refused):
            reasons.append(result.reason)
            continue
        value = result.value if isinstance(result, Ok) else None
        placed = _place(builder, slot, value)
        pairs[slot.rule.name] = (agency_value, placed)
    if reasons:
        return DraftOutcome(None, reasons=tuple(reasons))
    kept = {name: pair for name, pair in pairs.items() if not _create_only(slots, name)}
    return DraftOutcome(builder.build(), pairs=kept)


def _place(builder: _DraftBuilder, slot: Slot, value: CanonicalValue) -> CanonicalValue:
    if slot.partner is None:
        builder.values["stage_id"] = str(value)
        return value
    return builder.put(slot.partner, value)


def _create_only(slots: tuple[Slot, ...], name: str) -> bool:
    return any(s.rule.name == name and s.rule.create_only for s in slots)


def _initial_stage(result: Result, partner: PartnerConfig, stage: CanonicalValue) -> Ok | Refused:
    if isinstance(result, Refused) or (isinstance(result, Ok) and result.value is not None):
        return result
    initial = partner.stages.initial_partner_stage
    if initial is not None:
        return Ok(initial)
    return Refused(
        f"agency stage id {stage} is unmapped for partner '{partner.code}' and the stage map"
        " sets no initial_partner_stage, so the partner deal cannot be created"
    )
