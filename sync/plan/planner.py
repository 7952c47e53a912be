"""The pure planner: (snapshots, link state, mapping) → operations. No I/O, no clock.

Entry points (final signatures)::

    plan_agency_deal(
        deal: Deal,                                  # the agency deal, freshly read
        links: Mapping[str, LinkState],              # its links, by partner code
        partner_deals: Mapping[str, Deal | None],    # by partner code; None = not created / gone
        mapping: CompiledMapping,
        *,
        now: datetime,                               # aware UTC; stamps notes
        agency: AgencyExtras = AgencyExtras(),       # contact, company, pipeline, notes
        partners: Mapping[str, PartnerExtras] | None = None,  # per code: pipeline, notes
    ) -> list[LinkPlan]       # one plan per partner the deal is or was routed to

    plan_partner_change(
        partner_code: str,
        partner_deal: Deal | None,                   # None: the partner deal is gone
        link: LinkState,
        agency_deal: Deal | None,                    # None: the agency deal is gone
        mapping: CompiledMapping,
        *,
        now: datetime,
        agency: AgencyExtras = AgencyExtras(),
        partner: PartnerExtras = PartnerExtras(),
        siblings: Mapping[str, LinkState] | None = None,  # the deal's other links
    ) -> LinkPlan

``partner_deals``: a key present with ``None`` means "no such deal" — create it if
the link has no partner deal yet, orphan the link if it had one. A key *absent* is
"not looked at": a link with a partner deal id is skipped, and so is a recorded
``pending_create`` intent (a create may have happened with its answer lost: the
engine must search by stamp and pass what it found, or ``None``). Only a brand-new
link (no stored state) is created without that search. For a create plan
``next_state.partner_deal_id`` is None; the engine commits
``next_state.bound_to(new_id)``.

Order of decisions for one link: orphaned → nothing; not routed / out of the
agency partner pipeline / agency deal gone → ``CloseLink`` (once); partner paused
or snapshot missing → ``Skip``; partner deal gone → ``OrphanLink`` + a marked
note on the agency deal; a field map of the partner that no longer resolves →
``Park`` (its changes could otherwise be lost); no partner deal → a deal closed
before the partner's start is kept as history (``CloseLink(history=True)``,
:mod:`sync.plan.history`), else ``CreatePartnerDeal``; else mirror
every slot (:mod:`sync.plan.mirror`) and the notes (:mod:`sync.plan.notes`). A create
or a mirror that would carry an amount a CRM cannot hold exactly, a negative amount
or an implausible paid total parks instead (:mod:`sync.plan.money`). Any
refusal parks the link with every reason and writes nothing; the same reason
again yields no operation. Built-ins: title flows ``to_partner``; amount and stage
are ``both`` with the partner as owner (the partner works the deal).

Per-link truth (:mod:`sync.plan.fanout`): every link's next state carries its own
``outcome`` (its partner deal's stage semantics). Under fan-out only the leading
partner writes the agency deal's stage and amount (``policies.fan_out``), and an
open partner is told once when a sibling won. A link whose partner is no longer
routed while the deal went to a partner it had not gone to is *re-routed*: closed
with "re-routed to …" (the ledger takes its money back), its partner told or closed.

Types live in :mod:`sync.plan.types` and :mod:`bridge.model` (link state); hashes in
:mod:`sync.plan.values`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from bridge.mapping.compiled import CompiledMapping
from bridge.model import CanonicalValue, Deal, LinkState, require_utc
from sync.plan import fanout
from sync.plan.link import LinkInputs, make_plan, plan_link, unknown_partner
from sync.plan.types import AgencyExtras, LinkPlan, PartnerExtras

_NO_EXTRAS = PartnerExtras()
_NO_AGENCY = AgencyExtras()


def plan_agency_deal(
    deal: Deal,
    links: Mapping[str, LinkState],
    partner_deals: Mapping[str, Deal | None],
    mapping: CompiledMapping,
    *,
    now: dt.datetime,
    agency: AgencyExtras = _NO_AGENCY,
    partners: Mapping[str, PartnerExtras] | None = None,
) -> list[LinkPlan]:
    """One plan per partner the agency deal is routed to or has a link with."""
    now = require_utc(now, "now")
    routing = deal.fields.get(mapping.agency.routing_field_id)
    codes = {p.code for p in mapping.routed_partners(routing)} | set(links)
    extras = partners or {}
    pipelines = {c: extras.get(c, _NO_EXTRAS).pipeline for c in codes}
    group = fanout.members(deal, links, partner_deals, mapping, pipelines, agency.pipeline)
    roles = fanout.roles(group, mapping.policies.fan_out.agency_follows)
    plans: list[LinkPlan] = []
    for code in sorted(codes):
        partner = mapping.partners.get(code)
        state = links.get(code)
        if partner is None:
            plans.extend(unknown_partner(deal.id, code, state))
            continue
        inputs = LinkInputs(
            key=(deal.id, code),
            partner=partner,
            state=state,
            deal=deal,
            partner_deal=partner_deals.get(code),
            partner_fetched=code in partner_deals,
            mapping=mapping,
            now=now,
            agency=agency,
            extras=extras.get(code, _NO_EXTRAS),
            sibling_writes=_sibling_writes(links, code),
            role=roles.get(code),
            rerouted=fanout.rerouted_to(code, deal, links, mapping),
        )
        plan = plan_link(inputs)
        if plan is not None:
            plans.append(plan)
    return plans


def _sibling_writes(
    links: Mapping[str, LinkState], code: str
) -> dict[str, tuple[CanonicalValue, ...]]:
    """Per slot: the agency values the *other* links of this deal wrote and that stand."""
    found: dict[str, list[CanonicalValue]] = {}
    for other_code, state in links.items():
        if other_code == code:
            continue
        for name, value in state.agency_writes().items():
            found.setdefault(name, []).append(value)
    return {name: tuple(values) for name, values in found.items()}


def plan_partner_change(
    partner_code: str,
    partner_deal: Deal | None,
    link: LinkState,
    agency_deal: Deal | None,
    mapping: CompiledMapping,
    *,
    now: dt.datetime,
    agency: AgencyExtras = _NO_AGENCY,
    partner: PartnerExtras = _NO_EXTRAS,
    siblings: Mapping[str, LinkState] | None = None,
) -> LinkPlan:
    """The plan for one existing link after a hint from the partner side.

    ``siblings``: the agency deal's other links (fan-out), if any, so their writes to
    the shared agency deal are recognised as theirs.
    """
    config = mapping.partners.get(partner_code)
    if config is None:
        closing = unknown_partner(link.agency_deal_id, partner_code, link)
        return closing[0] if closing else make_plan(link.key, (), (), link, link)
    inputs = LinkInputs(
        key=link.key,
        partner=config,
        state=link,
        deal=agency_deal,
        partner_deal=partner_deal,
        partner_fetched=True,
        mapping=mapping,
        now=require_utc(now, "now"),
        agency=agency,
        extras=partner,
        sibling_writes=_sibling_writes({**(siblings or {}), partner_code: link}, partner_code),
    )
    return plan_link(inputs) or make_plan(link.key, (), (), link, link)
