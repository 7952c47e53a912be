"""The planning step of a pass: gathered snapshots and link states → the pure planner → plans.

Only plans that write or change the stored link state are kept, so a quiet pass
commits nothing. A link of a partner that is down this pass is left alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol

from bridge.fx.rates import RateBook
from bridge.mapping.compiled import CompiledMapping
from bridge.model import Deal, LinkState, Pipeline
from sync.gather import Gathered
from sync.plan.types import AgencyExtras, LinkPlan, PartnerExtras


class Planner(Protocol):
    """The pure planner's two entry points (see :mod:`sync.plan`)."""

    def plan_agency_deal(
        self,
        deal: Deal,
        links: Mapping[str, LinkState],
        partner_deals: Mapping[str, Deal | None],
        mapping: CompiledMapping,
        *,
        now: dt.datetime,
        agency: AgencyExtras = ...,
        partners: Mapping[str, PartnerExtras] = ...,
    ) -> list[LinkPlan]: ...

    def plan_partner_change(
        self,
        partner_code: str,
        partner_deal: Deal | None,
        link: LinkState,
        agency_deal: Deal | None,
        mapping: CompiledMapping,
        *,
        now: dt.datetime,
        agency: AgencyExtras = ...,
        partner: PartnerExtras = ...,
    ) -> LinkPlan: ...


def default_planner() -> Planner:
    import sync.plan

    return sync.plan


class Planning:
    def __init__(
        self,
        planner: Planner,
        mapping: CompiledMapping,
        now: dt.datetime,
        agency_pipeline: Pipeline | None,
        rates: RateBook | None = None,
    ) -> None:
        self.planner = planner
        self.mapping = mapping
        self.now = now
        self.agency_pipeline = agency_pipeline
        self.rates = rates or RateBook()  # the admin's exchange rates (bridge rates set)

    def run(
        self,
        got: Gathered,
        live: Sequence[str],
        pipelines: Mapping[str, Pipeline | None],
        starts: Mapping[str, dt.datetime] | None = None,
    ) -> list[LinkPlan]:
        """``starts``: each partner's first sync, so closed deals older than it stay
        history (:mod:`sync.plan.history`)."""
        begun = starts or {}
        extras = {
            c: PartnerExtras(pipeline=pipelines.get(c), started_at=begun.get(c)) for c in live
        }
        plans: list[LinkPlan] = []
        for deal in got.agency_deals.values():
            plans.extend(self._agency_deal(deal, got, live, extras))
        for agency_id in sorted(got.agency_missing):
            plans.extend(self._agency_gone(agency_id, got, live, extras))
        return [p for p in plans if p.link_key[1] in live and (p.writes or p.state_changed)]

    def _agency_deal(
        self,
        deal: Deal,
        got: Gathered,
        live: Sequence[str],
        extras: Mapping[str, PartnerExtras],
    ) -> list[LinkPlan]:
        states = got.links.get(deal.id, {})
        contact = got.contacts.get(deal.contact_ids[0]) if deal.contact_ids else None
        notes = got.agency_notes.get(deal.id, ())
        company = got.companies.get(deal.company_id) if deal.company_id else None
        agency = AgencyExtras(
            contact=contact,
            company=company,
            pipeline=self.agency_pipeline,
            notes=notes,
            rates=self.rates,
        )
        return self.planner.plan_agency_deal(
            deal,
            states,
            self._partner_deals(deal, states, got, live),
            self.mapping,
            now=self.now,
            agency=agency,
            partners=_with_notes(extras, states, got, deal.id),
        )

    def _partner_deals(
        self, deal: Deal, states: Mapping[str, LinkState], got: Gathered, live: Sequence[str]
    ) -> dict[str, Deal | None]:
        """Per partner: the deal, None for "none there", absent for "not fetched"."""
        routing = deal.fields.get(self.mapping.agency.routing_field_id)
        codes = {p.code for p in self.mapping.routed_partners(routing)} | set(states)
        result: dict[str, Deal | None] = {}
        for code in codes & set(live):
            link = states.get(code)
            if link is None or link.partner_deal_id is None:
                if deal.id in got.searched.get(code, ()):
                    found = got.stamped.get(code, {}).get(deal.id, ())
                    result[code] = found[0] if found else None  # adopt the oldest
            elif link.partner_deal_id in got.partner_deals.get(code, {}):
                result[code] = got.partner_deals[code][link.partner_deal_id]
        return result

    def _agency_gone(
        self,
        agency_id: str,
        got: Gathered,
        live: Sequence[str],
        extras: Mapping[str, PartnerExtras],
    ) -> list[LinkPlan]:
        plans = []
        for code, link in got.links.get(agency_id, {}).items():
            fetched = got.partner_deals.get(code, {})
            deal_id = link.partner_deal_id
            if code not in live or deal_id is None or deal_id not in fetched:
                continue
            plan = self.planner.plan_partner_change(
                code,
                fetched[deal_id],
                link,
                None,
                self.mapping,
                now=self.now,
                partner=extras[code],
            )
            plans.append(plan)
        return plans


def _with_notes(
    extras: Mapping[str, PartnerExtras],
    states: Mapping[str, LinkState],
    got: Gathered,
    deal_id: str,
) -> Mapping[str, PartnerExtras]:
    """Each partner's extras with that link's partner-deal notes, when they were read, and
    the other partner deals found carrying this deal's stamp (duplicates)."""
    result = dict(extras)
    for code, link in states.items():
        notes = got.partner_notes.get((code, link.partner_deal_id or ""))
        if notes is not None and code in result:
            result[code] = dataclasses.replace(result[code], notes=notes)
    for code, found in got.stamped.items():
        others = tuple(d.id for d in found.get(deal_id, ())[1:])
        if others and code in result:
            result[code] = dataclasses.replace(result[code], stamped_others=others)
    return result
