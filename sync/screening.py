"""Channel conflicts, screened right before partner deals are created (DESIGN §5).

A new partner deal whose client (phone, e-mail, ИНН) was already handed to
another partner within the window is flagged with a timeline comment on the
agency deal; if the policy says hold, its create becomes a park with a reason
that tells the manager how to release it. Recording what was handed over
happens with the link's own commit (:mod:`sync.record`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence

from bridge.channels.conflicts import Draft, fingerprints_of, known_clients, screen_new_handovers
from bridge.channels.normalise import Fingerprint
from bridge.crm import Crm, CrmError
from bridge.mapping.compiled import CompiledMapping, Policies
from bridge.mapping.texts import notice_overrides
from bridge.model import LinkKey, LinkStatus, Note
from bridge.notices import Notices
from bridge.store.db import Store
from sync.plan.leads import Incoming
from sync.plan.types import CreatePartnerDeal, LinkPlan, Park

log = logging.getLogger(__name__)


def screen_creates(
    store: Store,
    mapping: CompiledMapping,
    plans: Sequence[LinkPlan],
    now: dt.datetime,
    prints: dict[LinkKey, frozenset[Fingerprint]] | None = None,
) -> tuple[list[LinkPlan], list[Note]]:
    """The plans with held creates turned into parks, and the comments for the agency.

    ``prints``, if given, is told each screened create's client fingerprints (those of
    its draft's contact and company), for the record step to store as the handover
    without normalising the same phones again (:class:`sync.record.Recorder`)."""
    groups: dict[tuple[dt.timedelta, bool, str], list[Draft]] = defaultdict(list)
    for plan in plans:
        for op in plan.writes:
            if isinstance(op, CreatePartnerDeal):
                policies = _policies(mapping, plan.link_key[1])
                key = (
                    policies.channel_conflict_window,
                    policies.hold_on_channel_conflict,
                    policies.language,
                )
                groups[key].append(Draft(*plan.link_key, op.draft.contact, op.draft.company))
    if not groups:
        return list(plans), []
    held: set[tuple[str, str]] = set()
    matched: dict[tuple[str, str], str] = {}
    comments: list[Note] = []
    names = {code: p.name for code, p in mapping.partners.items()}
    with store.transaction() as session:
        for (window, hold, language), drafts in groups.items():
            notices = Notices(language, notice_overrides(mapping.texts).get(language))
            result = screen_new_handovers(
                session, drafts, now, window, hold, notices=notices, partner_names=names
            )
            held |= result.held
            if prints is not None:
                prints.update(result.prints)
            matched.update(result.matched)
            comments += result.comments
    screened = [
        _held(plan, matched.get(plan.link_key, "")) if plan.link_key in held else plan
        for plan in plans
    ]
    return screened, comments


def post_comments(agency: Crm, comments: Sequence[Note]) -> None:
    """Tell the agency on the deal's timeline; a failure is logged, never fatal."""
    if not comments:
        return
    try:
        results = agency.add_notes(comments)
    except CrmError as exc:
        log.warning("channel-conflict comments not posted: %s", exc)
        return
    for result in results:
        if not result.ok:
            log.warning("channel-conflict comment on deal %s failed: %s", result.key, result.error)


def _held(plan: LinkPlan, matched: str) -> LinkPlan:
    aid, code = plan.link_key
    shared = f": {matched}" if matched else ""
    reason = (
        f"held: this client was already handed to another partner (channel conflict{shared}); "
        f"release it with `bridge channels confirm {aid} {code}`"
    )
    base = plan.previous or dataclasses.replace(plan.next_state, synced={})
    state = dataclasses.replace(base, status=LinkStatus.PARKED, park_reason=reason)
    return LinkPlan(plan.link_key, (Park(plan.link_key, reason),), (), state, plan.previous)


def _policies(mapping: CompiledMapping, code: str) -> Policies:
    partner = mapping.partners.get(code)
    return partner.policies if partner is not None else mapping.policies


def screen_leads(
    store: Store, mapping: CompiledMapping, incoming: Sequence[Incoming], now: dt.datetime
) -> dict[str, str]:
    """Per lead stamp, why an incoming partner-registered lead is held: its client (phone,
    e-mail, ИНН) is already the agency's — handed over with an agency deal to any partner
    within the window, or brought earlier as another lead — or another lead of this same
    batch (from another partner) carries it. Released leads are not screened."""
    held: dict[str, str] = {}
    batch: dict[Fingerprint, Incoming] = {}
    names = {code: p.name for code, p in mapping.partners.items()}
    with store.transaction() as session:
        for lead in incoming:
            prints = fingerprints_of(lead.contact, lead.company)
            if not lead.screened or not prints:
                continue
            window = _policies(mapping, lead.code).channel_conflict_window
            earlier = known_clients(session, prints, now, window)
            release = f"release it with `bridge leads release {lead.code} {lead.deal.id}`"
            if earlier:
                handover, match = earlier[0]
                who = names.get(handover.partner_code, handover.partner_code)
                held[lead.stamp] = (
                    f"held: this client is already the agency's — agency deal "
                    f"{handover.agency_deal_id} (with {who} since {handover.handed_at:%Y-%m-%d}), "
                    f"same {match.kind.value} {match.value}; {release}"
                )
                continue
            twin = next((batch[f] for f in sorted(prints) if f in batch), None)
            if twin is not None and twin.code != lead.code:
                held[lead.stamp] = (
                    f"held: {names.get(twin.code, twin.code)} registered the same client in this "
                    f"pass (its deal {twin.deal.id}); {release}"
                )
                continue
            for fingerprint in prints:
                batch.setdefault(fingerprint, lead)
    return held
