"""Telling the bridge's own writes apart in a listing, before fetching anything for them.

After a pass writes to one side, the next poll lists that deal again (its
modification time moved). The planner would find nothing to do — each side's image
hashes to what the link last left there (:func:`sync.plan.mirror.is_own_echo`) — but
only after the *other* side's deal was fetched to plan it. :class:`EchoCheck` makes
the same test on the listed deal alone, so the gathering step can leave such a deal
out and fetch nothing for it. It only says "echo" when nothing else could need the
deal: every link active, bound and not mirroring notes, and no routed partner
without a link.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.mapping.compiled import CompiledMapping, Side
from bridge.model import Deal, LinkState, LinkStatus, Pipeline
from sync.plan.mirror import is_own_echo
from sync.plan.slots import Slot, slots_for
from sync.plan.types import AgencyExtras, PartnerExtras


class EchoCheck:
    def __init__(
        self,
        mapping: CompiledMapping,
        agency_pipeline: Pipeline | None,
        partner_pipelines: Mapping[str, Pipeline | None],
    ) -> None:
        self.mapping = mapping
        self._agency = AgencyExtras(pipeline=agency_pipeline)
        self._pipelines = dict(partner_pipelines)
        self._slots: dict[str, tuple[Slot, ...]] = {}

    def _live_slots(self, code: str) -> tuple[Slot, ...]:
        if code not in self._slots:
            partner = self.mapping.partners[code]
            extras = PartnerExtras(pipeline=self._pipelines.get(code))
            slots = slots_for(self.mapping, partner, self._agency, extras)
            self._slots[code] = tuple(s for s in slots if not s.rule.create_only)
        return self._slots[code]

    def _plain(self, link: LinkState) -> bool:
        """A link whose next plan depends on the two deals' images alone."""
        partner = self.mapping.partners.get(link.partner_code)
        return (
            partner is not None
            and link.partner_code in self._pipelines
            and link.status is LinkStatus.ACTIVE
            and link.partner_deal_id is not None
            and link.hold is None
            and not partner.policies.mirror_notes
        )

    def partner_echo(self, deal: Deal, link: LinkState) -> bool:
        """``deal`` (the link's partner deal, as listed) holds what the bridge left there."""
        return self._plain(link) and is_own_echo(
            self._live_slots(link.partner_code), Side.PARTNER, deal, link
        )

    def agency_echo(self, deal: Deal, links: Mapping[str, LinkState]) -> bool:
        """``deal`` (an agency deal, as listed) holds, for each of its links, what the
        bridge left there, and is routed to no partner it has no link with."""
        routing = deal.fields.get(self.mapping.agency.routing_field_id)
        routed = {p.code for p in self.mapping.routed_partners(routing)}
        if not links or not routed <= links.keys():
            return False
        return all(
            self._plain(link) and is_own_echo(self._live_slots(code), Side.AGENCY, deal, link)
            for code, link in links.items()
        )
