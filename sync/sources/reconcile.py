"""The nightly safety net: a full comparison that finds what polling and webhooks missed.

Per partner, every live link's partner deal is read in bulk and compared by
modification time; a deal that is gone (deleted) or changed since the link was
last synced is handed to the inbox. On the agency side, the whole partner
pipeline is listed once: a deal routed to a partner with no link, or changed
since its links last saw it, is queued too. The normal pass then does the work
(orphaning a link whose partner deal was deleted, with a note on the agency
deal), so reconcile itself never writes to a CRM.

It is handed what it compares (the store, the mapping, the agency CRM and the
partners' CRMs) and, to run that pass, a callable; it knows nothing of the engine.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bridge.crm import Crm, CrmError
from bridge.mapping.compiled import CompiledMapping
from bridge.model import Deal, Hint, HintKind, LinkState, LinkStatus
from bridge.store import links
from bridge.store.db import Store
from sync.engine import PassReport
from sync.sources import inbox, poll

log = logging.getLogger(__name__)
LIVE = (LinkStatus.ACTIVE, LinkStatus.PARKED, LinkStatus.PENDING_CREATE)


@dataclass
class ReconcileReport:
    missing: dict[str, list[str]] = field(default_factory=dict)  # code → partner deal ids gone
    stale: dict[str, list[str]] = field(default_factory=dict)  # code → partner deal ids changed
    unlinked: list[str] = field(default_factory=list)  # agency deals routed but not linked
    agency_missing: list[str] = field(default_factory=list)  # linked agency deals gone
    errors: dict[str, str] = field(default_factory=dict)
    sync: PassReport | None = None


def reconcile(
    store: Store,
    mapping: CompiledMapping,
    agency: Crm,
    partners: Mapping[str, Crm],
    now: dt.datetime,
    *,
    then: Callable[[], PassReport] | None = None,
) -> ReconcileReport:
    """Compare the agency with ``partners`` (code → CRM), queue what differs in the inbox,
    then run ``then`` (a sync pass over the same partners), if given."""
    report = ReconcileReport()
    hints: list[Hint] = []
    for code, crm in partners.items():
        try:
            hints.extend(_partner_side(store, agency.system, code, crm, report, now))
        except CrmError as exc:
            log.warning("reconcile: partner %s failed: %s", code, exc)
            report.errors[code] = str(exc)
    try:
        hints.extend(_agency_side(store, mapping, agency, report, now))
    except CrmError as exc:
        report.errors["agency"] = str(exc)
    inbox.record(store, hints, dt.timedelta(0))
    if then is not None:
        report.sync = then()
    return report


def _partner_side(
    store: Store, agency_system: str, code: str, crm: Crm, report: ReconcileReport, now: dt.datetime
) -> list[Hint]:
    with store.transaction() as session:
        states = [s for s in links.states_for(session, code, LIVE) if s.partner_deal_id]
    found = crm.fetch_deals([s.partner_deal_id or "" for s in states])
    hints = []
    for state in states:
        deal = found.get(state.partner_deal_id or "")
        if deal is None:
            report.missing.setdefault(code, []).append(state.partner_deal_id or "")
        elif _newer(deal, state.partner_updated_at):
            report.stale.setdefault(code, []).append(deal.id)
        else:
            continue
        hints.append(Hint(agency_system, state.agency_deal_id, HintKind.UPDATED, now, "reconcile"))
    return hints


def _agency_side(
    store: Store, mapping: CompiledMapping, agency: Crm, report: ReconcileReport, now: dt.datetime
) -> list[Hint]:
    by_deal = _links_by_agency(store, mapping)
    listed: set[str] = set()
    queued: list[str] = []
    for page in agency.list_changed(poll.BEGINNING):
        for deal in page.deals:
            listed.add(deal.id)
            if _agency_differs(mapping, deal, by_deal.get(deal.id, {}), report):
                queued.append(deal.id)
    for agency_id, states in by_deal.items():
        if agency_id not in listed and any(s.status in LIVE for s in states.values()):
            report.agency_missing.append(agency_id)
            queued.append(agency_id)
    return [Hint(agency.system, i, HintKind.UPDATED, now, "reconcile") for i in queued]


def _agency_differs(
    mapping: CompiledMapping, deal: Deal, rows: dict[str, LinkState], report: ReconcileReport
) -> bool:
    """Routed but not linked, changed since its links last saw it, or left the pipeline."""
    live = [r for r in rows.values() if r.status in LIVE]
    if deal.pipeline_id != mapping.agency.pipeline_id:
        return bool(live)
    routed = mapping.routed_partners(deal.fields.get(mapping.agency.routing_field_id))
    unlinked = [p.code for p in routed if p.code not in rows and not p.paused]
    if unlinked:
        report.unlinked.append(deal.id)
    return bool(unlinked) or any(_newer(deal, r.agency_updated_at) for r in live)


def _links_by_agency(store: Store, mapping: CompiledMapping) -> dict[str, dict[str, LinkState]]:
    result: dict[str, dict[str, LinkState]] = {}
    with store.transaction() as session:
        for code in mapping.partners:
            for state in links.states_for(session, code):
                result.setdefault(state.agency_deal_id, {})[code] = state
    return result


def _newer(deal: Deal, seen: dt.datetime | None) -> bool:
    return seen is None or deal.updated_at > seen
