"""Where each mirrored value lives on a deal, and how to read and write it.

A :class:`Slot` pairs a :class:`~sync.plan.fields.Rule` with the two places it
lives (a :class:`~bridge.mapping.compiled.FieldEnd`, or ``None`` for the stage).
:func:`slots_for` builds them from one partner's config:

* every field map of the partner;
* the built-in title (``to_partner``) and amount (``both``, partner owns it — the
  partner works the deal and sets the final sum) unless a field map already
  targets them; a partner whose mapping says ``fields: {amount: null}`` gets no
  amount at all (``PartnerConfig.amount_mirrored``): neither side's amount is
  written, and no amount is checked or parked for;
* the stage (``both``, partner owns it), translated by :mod:`sync.plan.stages`.

Contact and company targets are carried on create only: a deal patch cannot
edit a contact, so after creation they are not mirrored (``Rule.create_only``).
A field map's ``default`` applies to one-way maps only (it is in the target's
terms); a ``both`` map has no single target to default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from bridge.mapping.compiled import (
    CompiledMapping,
    Converter,
    ConverterKind,
    Direction,
    FieldEnd,
    FieldMap,
    PartnerConfig,
    Side,
    Target,
)
from bridge.model import CanonicalValue, Company, Contact, Deal, FieldValue, Money
from sync.plan.convert import Ok, Result, normalize, translate
from sync.plan.exchange import Exchange
from sync.plan.fields import Rule, Translate
from sync.plan.rounding import round_for_partner
from sync.plan.stages import StageTranslator
from sync.plan.types import AMOUNT_KEY, STAGE_KEY, TITLE_KEY, AgencyExtras, PartnerExtras

CONTACT_TARGETS = frozenset(
    {
        Target.CONTACT_NAME,
        Target.CONTACT_PHONE,
        Target.CONTACT_EMAIL,
        Target.COMPANY_NAME,
        Target.COMPANY_TAX_ID,
    }
)

_IMPLICIT_TITLE = FieldMap(
    name=TITLE_KEY,
    agency=FieldEnd(Target.TITLE, "title"),
    partner=FieldEnd(Target.TITLE, "title"),
    direction=Direction.TO_PARTNER,
    converter=Converter(ConverterKind.TEXT),
)
_IMPLICIT_AMOUNT = FieldMap(
    name=AMOUNT_KEY,
    agency=FieldEnd(Target.AMOUNT, "amount"),
    partner=FieldEnd(Target.AMOUNT, "amount"),
    direction=Direction.BOTH,
    converter=Converter(ConverterKind.MONEY),
    owner=Side.PARTNER,
)
STAGE_OWNER = Side.PARTNER


@dataclass(frozen=True, slots=True)
class Slot:
    rule: Rule
    agency: FieldEnd | None  # None: the deal's stage
    partner: FieldEnd | None

    def end(self, side: Side) -> FieldEnd | None:
        return self.agency if side is Side.AGENCY else self.partner


def _party(contact: Contact | None, company: Company | None, target: Target) -> FieldValue:
    getters: dict[Target, Callable[[], FieldValue]] = {
        Target.CONTACT_NAME: lambda: contact.name if contact else None,
        Target.CONTACT_PHONE: lambda: contact.phones if contact else None,
        Target.CONTACT_EMAIL: lambda: contact.emails if contact else None,
        Target.COMPANY_NAME: lambda: company.name if company else None,
        Target.COMPANY_TAX_ID: lambda: company.tax_id if company else None,
    }
    return getters[target]()


def read_end(
    deal: Deal | None, end: FieldEnd, contact: Contact | None, company: Company | None
) -> FieldValue:
    """The raw value at ``end`` (contact/company ends read the given contact/company)."""
    if end.target in CONTACT_TARGETS:
        return _party(contact, company, end.target)
    return _read_deal(deal, end) if deal is not None else None


def _read_deal(deal: Deal, end: FieldEnd) -> FieldValue:
    if end.target is Target.TITLE:
        return deal.title
    if end.target is Target.AMOUNT:
        return deal.amount
    if end.target is Target.RESPONSIBLE:
        return deal.responsible_id
    return deal.fields.get(end.field_id or "")


def to_field_value(value: CanonicalValue) -> FieldValue:
    """A canonical value as a deal field holds it (tuples hold option ids as text)."""
    if isinstance(value, tuple):
        return tuple(str(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class _Sides:
    mapping: CompiledMapping
    partner: PartnerConfig
    agency: AgencyExtras
    exchange: Exchange | None = None  # money in another currency: the admin's rates

    def currency(self, side: Side) -> str:
        return self.mapping.agency.currency if side is Side.AGENCY else self.partner.currency


def slots_for(
    mapping: CompiledMapping,
    partner: PartnerConfig,
    agency: AgencyExtras,
    extras: PartnerExtras,
    deal_date: dt.date | None = None,
) -> tuple[Slot, ...]:
    """Every slot mirrored for ``partner``: field maps, implicit title/amount, stage.

    ``deal_date``: the agency deal's date; money in another currency than a side keeps
    is converted at ``agency.rates`` on that date (:mod:`sync.plan.exchange`)."""
    exchange = Exchange(agency.rates, deal_date) if deal_date is not None else None
    sides = _Sides(mapping, partner, agency, exchange)
    maps = list(partner.fields)
    targets = {fm.agency.target for fm in maps} | {fm.partner.target for fm in maps}
    implicit = [_IMPLICIT_TITLE] + ([_IMPLICIT_AMOUNT] if partner.amount_mirrored else [])
    maps += [m for m in implicit if m.agency.target not in targets]
    slots = [_field_slot(fm, sides) for fm in maps]
    slots.append(_stage_slot(partner, agency, extras))
    return tuple(slots)


def _field_slot(fm: FieldMap, sides: _Sides) -> Slot:
    def reader(side: Side) -> Callable[[Deal], CanonicalValue]:
        end = fm.agency if side is Side.AGENCY else fm.partner
        contact, company = (sides.agency.contact, sides.agency.company)
        if side is Side.PARTNER:
            contact, company = None, None
        currency = sides.currency(side)
        return lambda deal: normalize(fm.converter, read_end(deal, end, contact, company), currency)

    rule = Rule(
        name=fm.name,
        direction=fm.direction,
        owner=fm.owner,
        read_agency=reader(Side.AGENCY),
        read_partner=reader(Side.PARTNER),
        to_partner=_translator(fm, Side.PARTNER, sides),
        to_agency=_translator(fm, Side.AGENCY, sides),
        create_only=fm.agency.target in CONTACT_TARGETS or fm.partner.target in CONTACT_TARGETS,
    )
    return Slot(rule, fm.agency, fm.partner)


def _translator(fm: FieldMap, to: Side, sides: _Sides) -> Translate:
    currency = sides.currency(to)
    default = None
    if fm.default is not None and fm.direction is not Direction.BOTH:
        default = normalize(fm.converter, fm.default, currency)

    rounds = to is Side.PARTNER and fm.partner.target is Target.AMOUNT

    def run(value: CanonicalValue) -> Result:
        if value is None and default is not None:
            return Ok(default)
        result = translate(
            fm.converter, value, to, label=fm.name, currency=currency, exchange=sides.exchange
        )
        if rounds and isinstance(result, Ok):
            return Ok(round_for_partner(sides.partner, result.value))
        return result

    return run


def _stage_slot(partner: PartnerConfig, agency: AgencyExtras, extras: PartnerExtras) -> Slot:
    stages = StageTranslator(partner, agency.pipeline, extras.pipeline)
    rule = Rule(
        name=STAGE_KEY,
        direction=Direction.BOTH,
        owner=STAGE_OWNER,
        read_agency=lambda deal: deal.stage_id,
        read_partner=lambda deal: deal.stage_id,
        to_partner=stages.to_partner,
        to_agency=stages.to_agency,
    )
    return Slot(rule, None, None)


def patch_entry(end: FieldEnd | None, value: CanonicalValue) -> dict[str, object] | None:
    """DealPatch keyword(s) writing ``value`` at ``end``; None when it cannot be written.

    Title, amount and responsible cannot be cleared through a patch (None means
    "untouched"), and contact/company ends are create-only.
    """
    if end is None:
        return {"stage_id": str(value)} if value is not None else None
    if end.target is Target.CUSTOM and end.field_id:
        return {"fields": {end.field_id: to_field_value(value)}}
    if value is None:
        return None
    if end.target is Target.AMOUNT:
        return {"amount": value} if isinstance(value, Money) else None
    names = {Target.TITLE: "title", Target.RESPONSIBLE: "responsible_id"}
    return {names[end.target]: str(value)} if end.target in names else None
