"""Where partner-registered leads come from: what the pass already listed.

Two kinds of evidence, both already in hand (no extra listing):

* a partner's polling window holds a deal in that partner's leads pipeline/stage (or
  with its leads field set) that carries no stamp and that no link names: a new lead;
* the agency's window (or a hint) holds an agency deal stamped ``lead:<code>:<id>`` that
  no link of that partner names: the bridge made it earlier (another store, another
  process, a crash before the link was recorded) — adopt it, never create it again.

Held leads wait for the manager (``bridge leads release``) and are not offered again;
a released one is offered unscreened.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from bridge.logs import log_event
from bridge.mapping.compiled import CompiledMapping
from bridge.model import Deal
from bridge.store import leads, links
from bridge.store.db import Store
from bridge.store.leads import LeadStatus
from sync.gather import Gathered
from sync.plan.leads import parse_lead_stamp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    """Per partner code: new leads (partner deals), released ones among them, and agency
    deals stamped as leads that no link names yet (agency deal → partner deal id)."""

    new: Mapping[str, tuple[Deal, ...]] = field(default_factory=dict)
    released: frozenset[tuple[str, str]] = frozenset()  # (code, partner deal id)
    unlinked: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    restamp: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # pid → agency id
    # Released by the manager but not in this pass's window: read them by id.
    fetch: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.new or self.unlinked or self.restamp or self.fetch)


def find(store: Store, mapping: CompiledMapping, got: Gathered, live: Sequence[str]) -> Found:
    """The leads of this pass among the live partners' windows and the agency deals."""
    codes = [c for c in live if _receives(mapping, c)]
    if not codes:
        return Found()
    found = _Finding()
    with store.transaction() as session:
        for code in codes:
            config = mapping.partners[code].leads
            window = got.partner_windows.get(code)
            if config is not None and window is not None:
                picked = [
                    d
                    for d in window.deals
                    if d.stamp is None and config.selects(d.pipeline_id, d.stage_id, d.fields)
                ]
                _sort(session, code, picked, found)
        for code, ids in leads.released(session, codes).items():
            listed = {d.id for d in found.new.get(code, ())}
            missing = tuple(i for i in ids if i not in listed)
            if missing:
                found.fetch[code] = missing
                found.released.update((code, i) for i in missing)
        _unlinked(session, got, codes, found)
    return Found(found.new, frozenset(found.released), found.unlinked, found.restamp, found.fetch)


def _unlinked(session: Session, got: Gathered, codes: Sequence[str], found: _Finding) -> None:
    """Agency deals stamped as a lead of a live partner that no link names: each partner
    deal gets one — the oldest agency deal with its stamp, unless a link already names
    that partner deal; the others are logged and left alone (nothing is deleted)."""
    by_partner_deal: dict[tuple[str, str], list[str]] = defaultdict(list)
    for deal in got.agency_deals.values():
        parsed = parse_lead_stamp(deal.stamp)
        if (
            parsed is not None
            and parsed[0] in codes
            and parsed[0] not in got.links.get(deal.id, {})
        ):
            by_partner_deal[parsed].append(deal.id)
    for code in codes:
        pids = [pid for c, pid in by_partner_deal if c == code]
        named = links.linked_partner_ids(session, code, pids) if pids else set()
        for pid in sorted(pids):
            ids = sorted(by_partner_deal[(code, pid)], key=lambda i: (len(i), i))
            keep, others = (None, ids) if pid in named else (ids[0], ids[1:])
            if keep is not None:
                found.unlinked.setdefault(code, {})[keep] = pid
            if others:
                log_event(
                    log,
                    "lead.duplicates",
                    logging.WARNING,
                    partner=code,
                    partner_deal=pid,
                    kept=keep or "(the linked one)",
                    others=",".join(others),
                )


@dataclass
class _Finding:
    new: dict[str, tuple[Deal, ...]] = field(default_factory=dict)
    released: set[tuple[str, str]] = field(default_factory=set)
    unlinked: dict[str, dict[str, str]] = field(default_factory=dict)
    restamp: dict[str, dict[str, str]] = field(default_factory=dict)
    fetch: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _sort(session: Session, code: str, picked: Sequence[Deal], found: _Finding) -> None:
    """New, released, held (left alone) or linked but not stamped yet."""
    if not picked:
        return
    ids = [d.id for d in picked]
    named = links.linked_partner_ids(session, code, ids)
    known = leads.of_partner(session, code, ids)
    fresh = []
    for deal in picked:
        lead = known.get(deal.id)
        if deal.id in named:
            if lead is not None and lead.agency_deal_id:  # its stamp was not written yet
                found.restamp.setdefault(code, {})[deal.id] = lead.agency_deal_id
            continue
        if lead is not None and lead.status is LeadStatus.HELD:
            continue
        if lead is not None and lead.status is LeadStatus.RELEASED:
            found.released.add((code, deal.id))
        fresh.append(deal)
    if fresh:
        found.new[code] = tuple(fresh)


def _receives(mapping: CompiledMapping, code: str) -> bool:
    partner = mapping.partners.get(code)
    return partner is not None and partner.leads is not None and partner.unavailable is None
