"""One step of a pass: partner-registered leads reach the agency, once.

Source (:mod:`sync.sources.leads`: what the pass already listed) → the client of each
new lead, read from the partner CRM in bulk → **one bulk stamp lookup at the agency**
(``find_stamped`` on ``lead:<code>:<id>``) → screening (:func:`sync.screening.screen_leads`)
→ plan (:mod:`sync.plan.leads`, pure) → create the agency deals (a lost answer is looked up
by stamp at once) → stamp the partner deals with their agency deal's id → record the link
(a normal link from then on, routed to the partner), the lead ("sourced by partner") and
the handover, in one transaction; the agency deal is hinted so the next pass mirrors it.

A partner whose calls fail here is reported like any failing partner; an agency failure
leaves every lead for the next pass (its stamp lookup makes the retry safe).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from bridge.channels.conflicts import fingerprints_of, record_handover
from bridge.crm import Crm, CrmError, OutcomeUnknown, WriteResult
from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping
from bridge.model import (
    Company,
    Contact,
    Deal,
    DealPatch,
    Hint,
    HintKind,
    LinkState,
    LinkStatus,
    Semantics,
)
from bridge.store import audit, leads, links
from bridge.store.audit import AuditEvent
from bridge.store.db import Store
from sync.gather import Gathered
from sync.plan.leads import Incoming, LeadPlan, partner_stamp, plan_leads
from sync.screening import screen_leads
from sync.sources import inbox
from sync.sources import leads as source

log = logging.getLogger(__name__)
PASSED, ADOPTED, HELD = "lead passed", "lead adopted", "lead held"
_P = TypeVar("_P", Contact, Company)


@dataclass(frozen=True, slots=True)
class _Passed:
    code: str
    partner_deal_id: str
    agency_deal_id: str
    partner_deal: Deal | None
    lead: Incoming | None  # None: adopted from an agency deal listed with its stamp
    created: bool


class LeadStep:
    def __init__(
        self,
        store: Store,
        mapping: CompiledMapping,
        agency: Crm,
        partners: Mapping[str, Crm],
        now: dt.datetime,
        count: Callable[[str], None],
        outcome: Callable[[str, str], Semantics | None] | None = None,
    ) -> None:
        self.store = store
        self.mapping = mapping
        self.agency = agency
        self.partners = partners
        self.now = now
        self.count = count
        # (partner code, partner stage id) → the link's own outcome (its partner pipeline)
        self._known = outcome
        self.failed: dict[str, CrmError] = {}

    def run(self, got: Gathered, live: Sequence[str]) -> dict[str, CrmError]:
        """Handle this pass's leads; the partners whose calls failed."""
        found = source.find(self.store, self.mapping, got, live)
        if not found:
            return {}
        done = self._unlinked(found, got)
        taken = {(p.code, p.partner_deal_id) for p in done}
        incoming = self._incoming(found, taken)
        try:
            done += self._pass(incoming)
        except CrmError as exc:  # the agency: every lead waits for the next pass
            log.warning("partner leads not passed this pass: %s", exc)
        self._stamp_partners(done, found)
        self._record(done)
        return self.failed

    # --- what came in -------------------------------------------------------------
    def _unlinked(self, found: source.Found, got: Gathered) -> list[_Passed]:
        """Agency deals stamped as leads that no link names: the bridge's earlier work."""
        return [
            _Passed(code, pid, aid, got.partner_deals.get(code, {}).get(pid), None, False)
            for code, pairs in sorted(found.unlinked.items())
            for aid, pid in sorted(pairs.items())
        ]

    def _incoming(self, found: source.Found, taken: set[tuple[str, str]]) -> list[Incoming]:
        """New leads with their client contact and company, read in bulk per partner."""
        out: list[Incoming] = []
        for code in sorted(set(found.new) | set(found.fetch)):
            crm = self.partners[code]
            try:
                fresh = [d for d in self._deals(crm, code, found) if (code, d.id) not in taken]
                if not fresh:
                    continue
                contact_ids = sorted({d.contact_ids[0] for d in fresh if d.contact_ids})
                company_ids = sorted({d.company_id for d in fresh if d.company_id})
                contacts = crm.fetch_contacts(contact_ids) if contact_ids else {}
                companies = crm.fetch_companies(company_ids) if company_ids else {}
            except CrmError as exc:
                self.failed[code] = exc
                continue
            for deal in fresh:
                contact = contacts.get(deal.contact_ids[0]) if deal.contact_ids else None
                company = companies.get(deal.company_id) if deal.company_id else None
                screened = (code, deal.id) not in found.released
                out.append(Incoming(code, deal, _bare(contact), _bare(company), screened))
        return out

    def _deals(self, crm: Crm, code: str, found: source.Found) -> list[Deal]:
        """The pass's new leads of a partner, plus released ones read by id (still
        unstamped: one stamped meanwhile is a link's already)."""
        deals = list(found.new.get(code, ()))
        ids = found.fetch.get(code, ())
        if ids:
            fetched = crm.fetch_deals(list(ids))
            deals += [fetched[i] for i in ids if i in fetched and fetched[i].stamp is None]
        return deals

    # --- the agency side ----------------------------------------------------------
    def _pass(self, incoming: Sequence[Incoming]) -> list[_Passed]:
        if not incoming:
            return []
        stamps = [lead.stamp for lead in incoming]
        pipeline = self.mapping.agency.pipeline_id
        stamped = self.agency.find_stamped(stamps, pipeline_id=pipeline)
        conflicts = screen_leads(self.store, self.mapping, incoming, self.now)
        plans = plan_leads(incoming, stamped, conflicts, self.mapping.agency, self.mapping.partners)
        self._hold([p for p in plans if p.hold is not None])
        done = [self._adopted(p) for p in plans if p.adopt is not None]
        return done + self._create([p for p in plans if p.draft is not None])

    def _adopted(self, plan: LeadPlan) -> _Passed:
        assert plan.adopt is not None
        if plan.duplicates:
            log_event(
                log,
                "lead.duplicates",
                logging.WARNING,
                partner=plan.lead.code,
                partner_deal=plan.lead.deal.id,
                kept=plan.adopt,
                others=",".join(plan.duplicates),
            )
        lead = plan.lead
        return _Passed(lead.code, lead.deal.id, plan.adopt, lead.deal, lead, False)

    def _create(self, plans: Sequence[LeadPlan]) -> list[_Passed]:
        if not plans:
            return []
        drafts = [p.draft for p in plans if p.draft is not None]
        try:
            results = self.agency.create_deals(drafts)
        except OutcomeUnknown as lost:
            results = [WriteResult(key=d.key, error=lost) for d in drafts]
        unknown = [d.stamp for d, r in zip(drafts, results, strict=True) if _lost(r)]
        found = self.agency.find_by_stamp([s for s in unknown if s]) if unknown else {}
        done = []
        for plan, result in zip(plans, results, strict=True):
            lead = plan.lead
            deal_id = found[lead.stamp].id if lead.stamp in found else result.deal_id
            if deal_id is None:
                log.warning("lead %s of %s not created: %s", lead.deal.id, lead.code, result.error)
                continue
            done.append(_Passed(lead.code, lead.deal.id, deal_id, lead.deal, lead, True))
        return done

    def _hold(self, plans: Sequence[LeadPlan]) -> None:
        with self.store.transaction() as session:
            for plan in plans:
                lead, reason = plan.lead, plan.hold or ""
                if not leads.held(session, lead.code, lead.deal.id, reason, self.now):
                    continue
                self.count(HELD)
                log_event(
                    log,
                    "lead.held",
                    logging.WARNING,
                    partner=lead.code,
                    partner_deal=lead.deal.id,
                    reason=reason,
                )

    # --- the partner side and the store -------------------------------------------
    def _stamp_partners(self, done: Sequence[_Passed], found: source.Found) -> None:
        """Each partner deal gets its agency deal's id as the bridge's stamp."""
        patches: dict[str, list[DealPatch]] = defaultdict(list)
        for item in done:
            partner = self.mapping.partners[item.code]
            deal = item.partner_deal
            if deal is None:
                patches[item.code].append(
                    DealPatch(item.partner_deal_id, stamp=item.agency_deal_id)
                )
            elif deal.stamp != item.agency_deal_id:
                patches[item.code].append(partner_stamp(deal, item.agency_deal_id, partner))
        for code, pairs in found.restamp.items():
            patches[code] += [DealPatch(pid, stamp=aid) for pid, aid in sorted(pairs.items())]
        for code, batch in sorted(patches.items()):
            try:
                results = self.partners[code].update_deals(batch)
            except CrmError as exc:
                self.failed.setdefault(code, exc)
                continue
            for result in results:
                if result.error is not None:
                    log.warning("lead %s of %s not stamped: %s", result.key, code, result.error)

    def outcome(self, code: str, stage_id: str) -> Semantics:
        """A new link's own outcome from its partner deal's stage; a stage the mirrored
        pipeline does not know (the partner's lead pipeline) is a new lead: open."""
        known = self._known(code, stage_id) if self._known is not None else None
        return known or Semantics.OPEN

    def _partner_deals(self, items: Sequence[_Passed]) -> dict[tuple[str, str], Deal]:
        """The partner deals of leads adopted without one at hand (read in bulk per
        partner), so the new link starts with its own outcome."""
        wanted: dict[str, list[str]] = {}
        for item in items:
            wanted.setdefault(item.code, []).append(item.partner_deal_id)
        read: dict[tuple[str, str], Deal] = {}
        for code, ids in wanted.items():
            try:
                found = self.partners[code].fetch_deals(ids)
            except CrmError as exc:
                log.warning("leads of %s: cannot read their deals: %s", code, exc)
                continue
            read.update({(code, i): d for i, d in found.items()})
        return read

    def _record(self, done: Sequence[_Passed]) -> None:
        if not done:
            return
        read = self._partner_deals([d for d in done if d.partner_deal is None])
        with self.store.transaction() as session:
            existing = {
                (s.agency_deal_id, s.partner_code): s
                for s in links.states(session, [d.agency_deal_id for d in done])
            }
            for item in done:
                stored = existing.get((item.agency_deal_id, item.code))
                deal = item.partner_deal or read.get((item.code, item.partner_deal_id))
                if stored is None or stored.partner_deal_id is None:
                    # New, or a pending create the planner held back ("not searched"):
                    # bound to the lead's partner deal, a normal active link from now on.
                    state = LinkState(
                        agency_deal_id=item.agency_deal_id,
                        partner_code=item.code,
                        partner_deal_id=item.partner_deal_id,
                        status=LinkStatus.ACTIVE,
                        outcome=self.outcome(item.code, deal.stage_id) if deal else None,
                    )
                    seen = (None, deal)
                    links.save_state(session, state, seen, self.now, new=stored is None)
                elif stored.outcome is None and deal is not None:
                    # Bound already (adopted by its stamp): it still gets its own outcome.
                    known = replace(stored, outcome=self.outcome(item.code, deal.stage_id))
                    links.save_state(session, known, (None, deal), self.now, new=False)
                leads.passed(
                    session, item.code, [(item.partner_deal_id, item.agency_deal_id)], self.now
                )
                if item.lead is not None:
                    prints = fingerprints_of(item.lead.contact, item.lead.company)
                    record_handover(session, item.agency_deal_id, item.code, prints, self.now)
                audit.add(session, [self._event(item)])
                self.count(PASSED if item.created else ADOPTED)
                log_event(
                    log,
                    "lead.passed" if item.created else "lead.adopted",
                    partner=item.code,
                    partner_deal=item.partner_deal_id,
                    agency_deal=item.agency_deal_id,
                )
        hints = [
            Hint(self.agency.system, d.agency_deal_id, HintKind.UPDATED, self.now, "lead")
            for d in done
        ]
        inbox.record(self.store, hints, dt.timedelta(0))

    def _event(self, item: _Passed) -> AuditEvent:
        how = "created" if item.created else "adopted by its stamp"
        return AuditEvent(
            at=self.now,
            agency_deal_id=item.agency_deal_id,
            partner_code=item.code,
            action="lead",
            side="agency",
            changed_by="partner",
            new_value=item.partner_deal_id,
            detail=f"a lead registered by the partner (its deal {item.partner_deal_id}); "
            f"agency deal {how}",
        )


def receive_leads(
    store: Store,
    mapping: CompiledMapping,
    agency: Crm,
    partners: Mapping[str, Crm],
    got: Gathered,
    live: Sequence[str],
    now: dt.datetime,
    count: Callable[[str], None],
    outcome: Callable[[str, str], Semantics | None] | None = None,
) -> dict[str, CrmError]:
    """The engine's one call: this pass's partner-registered leads; failing partners.
    ``outcome`` gives a new link its own outcome from its partner deal's stage."""
    return LeadStep(store, mapping, agency, partners, now, count, outcome).run(got, live)


def _lost(result: WriteResult) -> bool:
    return isinstance(result.error, OutcomeUnknown)


def _bare(party: _P | None) -> _P | None:
    """A partner's contact or company goes to the agency without its partner-side id."""
    return None if party is None else replace(party, id=None)
