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
        partners: Mapping[str, PartnerExtras] = {},  # per code: pipeline, notes
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
    ) -> LinkPlan

``partner_deals``: a key present with ``None`` means "no such deal" — create it if
the link has no partner deal yet, orphan the link if it had one. A key *absent* for
a link that has a partner deal id means "not fetched": that link is skipped.

Types live in :mod:`sync.plan_types`; JSON and hashes in :mod:`sync.plan_json`.
"""
