"""The nightly safety net: a full comparison that finds what polling and webhooks missed.

Per partner, every live link's partner deal is read in bulk and compared by
modification time; a deal that is gone (deleted) or changed since the link was
last synced is handed to the inbox. On the agency side, the whole partner
pipeline is listed once: a deal routed to a partner with no link, or changed
since its links last saw it, is queued too. The normal pass then does the work
(orphaning a link whose partner deal was deleted, with a note on the agency
deal), so reconcile itself never writes to a CRM.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from bridge.crm import CrmError
from bridge.model import Deal, Hint, HintKind
from bridge.store import links
from bridge.store.tables import LinkRow, LinkStatus
from sync.engine import Engine, PassReport
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


def reconcile(engine: Engine, partner: str | None = None, *, apply: bool = True) -> ReconcileReport:
    """Compare everything, queue what differs, then (with ``apply``) run a pass for it."""
    report = ReconcileReport()
    now = engine.clock()
    hints: list[Hint] = []
    for code in engine.codes(partner):
        try:
            hints.extend(_partner_side(engine, code, report, now))
        except CrmError as exc:
            log.warning("reconcile: partner %s failed: %s", code, exc)
            report.errors[code] = str(exc)
    try:
        hints.extend(_agency_side(engine, report, now))
    except CrmError as exc:
        report.errors["agency"] = str(exc)
    inbox.record(engine.store, hints, dt.timedelta(0))
    if apply:
        report.sync = engine.sync(partner)
    return report


def _partner_side(
    engine: Engine, code: str, report: ReconcileReport, now: dt.datetime
) -> list[Hint]:
    with engine.store.transaction() as session:
        rows = [r for r in links.for_partner(session, code, LIVE) if r.partner_deal_id]
    found = engine.partners[code].fetch_deals([r.partner_deal_id or "" for r in rows])
    hints = []
    for row in rows:
        deal = found.get(row.partner_deal_id or "")
        if deal is None:
            report.missing.setdefault(code, []).append(row.partner_deal_id or "")
        elif _newer(deal, row.partner_updated_at):
            report.stale.setdefault(code, []).append(deal.id)
        else:
            continue
        hints.append(
            Hint(engine.agency.system, row.agency_deal_id, HintKind.UPDATED, now, "reconcile")
        )
    return hints


def _agency_side(engine: Engine, report: ReconcileReport, now: dt.datetime) -> list[Hint]:
    by_deal = _links_by_agency(engine)
    listed: set[str] = set()
    queued: list[str] = []
    for page in engine.agency.list_changed(poll.BEGINNING):
        for deal in page.deals:
            listed.add(deal.id)
            if _agency_differs(engine, deal, by_deal.get(deal.id, {}), report):
                queued.append(deal.id)
    for agency_id, rows in by_deal.items():
        if agency_id not in listed and any(r.status in LIVE for r in rows.values()):
            report.agency_missing.append(agency_id)
            queued.append(agency_id)
    return [Hint(engine.agency.system, i, HintKind.UPDATED, now, "reconcile") for i in queued]


def _agency_differs(
    engine: Engine, deal: Deal, rows: dict[str, LinkRow], report: ReconcileReport
) -> bool:
    """Routed but not linked, changed since its links last saw it, or left the pipeline."""
    mapping = engine.mapping
    live = [r for r in rows.values() if r.status in LIVE]
    if deal.pipeline_id != mapping.agency.pipeline_id:
        return bool(live)
    routed = mapping.routed_partners(deal.fields.get(mapping.agency.routing_field_id))
    unlinked = [p.code for p in routed if p.code not in rows and not p.paused]
    if unlinked:
        report.unlinked.append(deal.id)
    return bool(unlinked) or any(_newer(deal, r.agency_updated_at) for r in live)


def _links_by_agency(engine: Engine) -> dict[str, dict[str, LinkRow]]:
    result: dict[str, dict[str, LinkRow]] = {}
    with engine.store.transaction() as session:
        for code in engine.mapping.partners:
            for row in links.for_partner(session, code):
                result.setdefault(row.agency_deal_id, {})[code] = row
    return result


def _newer(deal: Deal, seen: dt.datetime | None) -> bool:
    return seen is None or deal.updated_at > seen
