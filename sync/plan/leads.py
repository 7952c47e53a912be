"""Partner-registered leads, planned: (incoming partner deals, agency deals found by stamp)
→ what to adopt, what to create at the agency, what to hold. Pure: no I/O, no clock.

Identity lives in the CRMs (DESIGN §5): the agency deal made for a lead carries the
stamp ``lead:<partner code>:<partner deal id>`` (Bitrix24 ``ORIGINATOR_ID`` +
``ORIGIN_ID``, as every deal the bridge creates), so a lost store or a second process
finds it by stamp and adopts it instead of creating it twice; the partner deal gets the
agency deal's id as its stamp once the agency deal exists, like every partner deal the
bridge creates. The link is then a normal link, routed to that partner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bridge.mapping.compiled import AgencyConfig, PartnerConfig
from bridge.model import Company, Contact, Deal, DealDraft, DealPatch, FieldValue

PREFIX = "lead:"


def lead_stamp(code: str, partner_deal_id: str) -> str:
    """The stamp of the agency deal made for this partner deal."""
    return f"{PREFIX}{code}:{partner_deal_id}"


def parse_lead_stamp(stamp: str | None) -> tuple[str, str] | None:
    """``(partner code, partner deal id)`` of a lead stamp; None for any other stamp."""
    if not stamp or not stamp.startswith(PREFIX):
        return None
    code, sep, deal_id = stamp[len(PREFIX) :].partition(":")
    return (code, deal_id) if sep and code and deal_id else None


@dataclass(frozen=True, slots=True)
class Incoming:
    """A partner deal the partner registered for the agency, with its client."""

    code: str
    deal: Deal
    contact: Contact | None = None
    company: Company | None = None
    screened: bool = True  # False: the manager released it, pass it without screening

    @property
    def stamp(self) -> str:
        return lead_stamp(self.code, self.deal.id)


@dataclass(frozen=True, slots=True)
class LeadPlan:
    """One incoming lead: adopt ``adopt`` (the oldest agency deal with its stamp), or
    create ``draft``, or hold with ``hold`` (nothing is written)."""

    lead: Incoming
    adopt: str | None = None
    draft: DealDraft | None = None
    hold: str | None = None
    duplicates: tuple[str, ...] = ()  # younger agency deals with the same stamp (left alone)


def plan_leads(
    incoming: Sequence[Incoming],
    stamped: Mapping[str, Sequence[Deal]],
    conflicts: Mapping[str, str],
    agency: AgencyConfig,
    partners: Mapping[str, PartnerConfig],
) -> list[LeadPlan]:
    """``stamped``: agency deals found by each lead stamp, oldest first; ``conflicts``:
    per lead stamp, why screening holds it. A deal already at the agency is adopted even
    if it would be held: it exists, and holding it would hide it."""
    plans = []
    for lead in incoming:
        found = stamped.get(lead.stamp, ())
        if found:
            extra = tuple(d.id for d in found[1:])
            plans.append(LeadPlan(lead, adopt=found[0].id, duplicates=extra))
            continue
        reason = conflicts.get(lead.stamp) if lead.screened else None
        if reason is not None:
            plans.append(LeadPlan(lead, hold=reason))
            continue
        partner = partners[lead.code]
        refused = _refused(lead.deal, agency)
        if refused is not None:
            plans.append(LeadPlan(lead, hold=refused))
            continue
        plans.append(LeadPlan(lead, draft=agency_draft(lead, agency, partner)))
    return plans


def agency_draft(lead: Incoming, agency: AgencyConfig, partner: PartnerConfig) -> DealDraft:
    """The agency deal for a lead: in the leads' agency pipeline and stage, routed to the
    partner that brought it, with the client contact and company, stamped."""
    assert partner.leads is not None
    routing: FieldValue = partner.routing_value
    if agency.routing_multiple:
        routing = (partner.routing_value,)
    return DealDraft(
        key=lead.stamp,
        title=lead.deal.title,
        pipeline_id=partner.leads.agency_pipeline_id,
        stage_id=partner.leads.agency_stage_id,
        amount=lead.deal.amount,
        contact=lead.contact,
        company=lead.company,
        stamp=lead.stamp,
        fields={agency.routing_field_id: routing},
    )


def partner_stamp(deal: Deal, agency_deal_id: str, partner: PartnerConfig) -> DealPatch:
    """The patch that stamps the partner deal with its agency deal's id; a lead registered in
    another pipeline moves into the partner pipeline the bridge mirrors, at the stage the
    lead's agency stage maps to (else the stage map's ``initial``)."""
    assert partner.leads is not None
    if deal.pipeline_id == partner.pipeline_id:
        return DealPatch(deal.id, stamp=agency_deal_id)
    stages = partner.stages
    stage = stages.to_partner.get(partner.leads.agency_stage_id) or stages.initial_partner_stage
    if stage is None:
        return DealPatch(deal.id, stamp=agency_deal_id)
    return DealPatch(deal.id, pipeline_id=partner.pipeline_id, stage_id=stage, stamp=agency_deal_id)


def _refused(deal: Deal, agency: AgencyConfig) -> str | None:
    """A lead whose amount the agency cannot hold as it is: never converted silently."""
    if deal.amount is not None and deal.amount.currency != agency.currency:
        return (
            f"held: the lead's amount {deal.amount.amount} {deal.amount.currency} is not in the "
            f"agency's currency {agency.currency} — the bridge does not convert; change the "
            "amount in the partner deal or clear it"
        )
    return None
