"""What ``bridge check`` foresees: hand-overs that will certainly park, per partner.

Two looks, both read-only:

* **by the mapping and the rates** — a partner keeping another currency than the
  agency while the deal amount is mirrored, with no rate for the pair known today
  (mapping.yaml's ``rates:`` and those entered with ``bridge rates set``): every
  hand-over of an agency amount parks (the bridge converts only at rates the admin
  entered, :mod:`bridge.fx.rates`);
* **a sample dry run** — a few open agency deals routed to each partner (the most
  recently changed, read in one listing), each planned by the real, pure planner as
  the hand-over it would be, with its contact, company and the known rates; every
  park and its reason is reported (a missing rate on a deal's date among them).

Nothing is written to any CRM or store.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from bridge.crm import Crm, CrmError
from bridge.fx.rates import RateBook
from bridge.mapping.compiled import CompiledMapping, PartnerConfig, Target
from bridge.model import Deal, Pipeline, Semantics
from sync.plan.planner import plan_agency_deal
from sync.plan.types import AgencyExtras, Park, PartnerExtras

SAMPLE = 3  # open deals planned per partner
LOOK_BACK = dt.timedelta(days=90)  # how far back the listing looks for open deals
MAX_PAGES = 2  # listing pages read at most (Bitrix24: 2,500 deals a page)


@dataclass(frozen=True, slots=True)
class Foreseen:
    """One hand-over that will park: the partner, the agency deal (None: every deal), why."""

    partner: str
    deal_id: str | None
    reason: str

    def line(self) -> str:
        where = f"agency deal {self.deal_id}" if self.deal_id else "every hand-over"
        return f"partner '{self.partner}': {where} would park — {self.reason}"


@dataclass(frozen=True, slots=True)
class Outlook:
    """Per partner, the open deals sampled; every hand-over foreseen to park; what failed."""

    sampled: Mapping[str, int]
    parks: tuple[Foreseen, ...]
    unread: tuple[str, ...] = ()  # accounts that could not be read (said, not fatal)


def currency_mismatches(
    mapping: CompiledMapping, rates: RateBook, today: dt.date
) -> list[Foreseen]:
    """Partners whose CRM keeps another currency than the agency's, amount mirrored, with
    no rate for the pair on ``today`` (either direction; no cross rates)."""
    found = []
    for code, partner in sorted(mapping.partners.items()):
        wanted = _amount_currency(partner)
        agency = mapping.agency.currency
        if wanted is None or wanted == agency or rates.find(agency, wanted, today):
            continue
        found.append(
            Foreseen(
                code,
                None,
                f"the agency keeps amounts in {agency} and '{code}' in {wanted}, and no "
                f"{agency}→{wanted} rate is known on {today.isoformat()}; the bridge converts "
                f"only at rates the admin entered — bridge rates set {agency} {wanted} <rate>, "
                f"or set the partner's 'currency:' to {agency} if its CRM keeps {agency}, or "
                "leave the amount unmapped (fields: {amount: null})",
            )
        )
    return found


def _amount_currency(partner: PartnerConfig) -> str | None:
    """The currency the partner's deal amount is written in; None: the amount is not mirrored."""
    for field_map in partner.fields:
        if Target.AMOUNT in (field_map.agency.target, field_map.partner.target):
            return field_map.converter.currency or partner.currency
    return partner.currency if partner.amount_mirrored else None


def foresee(
    mapping: CompiledMapping,
    crms: Mapping[str, Crm],
    now: dt.datetime,
    sample: int = SAMPLE,
    rates: RateBook | None = None,
) -> Outlook:
    """The mapping's mismatches, then a dry-run plan of ``sample`` open deals per partner.

    ``rates``: every rate known (default: mapping.yaml's ``rates:`` alone)."""
    rates = rates if rates is not None else RateBook.of(mapping.rates)
    parks = currency_mismatches(mapping, rates, now.date())
    agency = crms.get("agency")
    if agency is None:
        return Outlook({}, tuple(parks), ("agency",))
    unread: list[str] = []
    try:
        pipeline = _pipeline(agency, mapping.agency.pipeline_id)
        chosen = _open_deals(agency, mapping, pipeline, now, sample)
        contacts = agency.fetch_contacts(sorted({c for d in _all(chosen) for c in d.contact_ids}))
        companies = agency.fetch_companies(
            sorted({d.company_id for d in _all(chosen) if d.company_id})
        )
    except CrmError as exc:
        return Outlook({}, tuple(parks), (f"agency: {exc}",))
    pipelines: dict[str, PartnerExtras] = {}
    for code in sorted(chosen):  # only the partners with a deal to plan are read
        partner, crm = mapping.partners[code], crms.get(code)
        if crm is None or partner.unavailable is not None:
            continue
        try:
            pipelines[code] = PartnerExtras(pipeline=_pipeline(crm, partner.pipeline_id))
        except CrmError as exc:
            unread.append(f"{code}: {exc}")
    for code, deals in sorted(chosen.items()):
        if code not in pipelines:
            continue
        for deal in deals:
            extras = AgencyExtras(
                contact=contacts.get(deal.contact_ids[0]) if deal.contact_ids else None,
                company=companies.get(deal.company_id) if deal.company_id else None,
                pipeline=pipeline,
                rates=rates,
            )
            plans = plan_agency_deal(
                deal,
                {},
                {code: None},
                _only(mapping, code),
                now=now,
                agency=extras,
                partners={code: pipelines[code]},
            )
            parks += [
                Foreseen(code, deal.id, op.reason)
                for plan in plans
                for op in plan.operations
                if isinstance(op, Park)
            ]
    sampled = {code: len(chosen.get(code, ())) for code in sorted(mapping.partners)}
    return Outlook(sampled, tuple(parks), tuple(unread))


def _only(mapping: CompiledMapping, code: str) -> CompiledMapping:
    """The mapping as one partner's hand-over sees it (a fan-out deal is planned per partner)."""
    from dataclasses import replace

    return replace(mapping, partners={code: mapping.partners[code]})


def _all(chosen: Mapping[str, list[Deal]]) -> list[Deal]:
    return [d for deals in chosen.values() for d in deals]


def _pipeline(crm: Crm, pipeline_id: str) -> Pipeline | None:
    return next((p for p in crm.pipelines() if p.id == pipeline_id), None)


def _open_deals(
    agency: Crm,
    mapping: CompiledMapping,
    pipeline: Pipeline | None,
    now: dt.datetime,
    sample: int,
) -> dict[str, list[Deal]]:
    """Up to ``sample`` open deals per partner, the most recently changed first."""
    open_stages = (
        {s.id for s in pipeline.stages if s.semantics is Semantics.OPEN} if pipeline else set()
    )
    seen: list[Deal] = []
    for n, page in enumerate(agency.list_changed(now - LOOK_BACK)):
        seen += page.deals
        if n + 1 >= MAX_PAGES:
            break
    chosen: dict[str, list[Deal]] = defaultdict(list)
    for deal in sorted(seen, key=lambda d: d.updated_at, reverse=True):
        if deal.pipeline_id != mapping.agency.pipeline_id or deal.stage_id not in open_stages:
            continue
        routing = deal.fields.get(mapping.agency.routing_field_id)
        for partner in mapping.routed_partners(routing):
            if len(chosen[partner.code]) < sample:
                chosen[partner.code].append(deal)
    return dict(chosen)
