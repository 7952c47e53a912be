"""What the console's buttons do, each in one transaction with its audit row.

Every action writes an ``audit`` row with ``changed_by = "console"`` and the
session's name in ``detail``, next to what it did — the console never acts
anonymously.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlmodel import Session

from bridge.cabinet import keys
from bridge.cabinet import requests as payout_requests
from bridge.channels.conflicts import confirm, held
from bridge.channels.tables import ChannelFlagRow
from bridge.crm import Crm, CrmError
from bridge.ledger import book
from bridge.ledger.rules import payout_entry
from bridge.mapping.compiled import CompiledMapping, Side
from bridge.model import DealPatch, FieldValue, Hint, HintKind, LinkStatus, Money
from bridge.store import audit, inbox, links
from bridge.store.tables import AuditRow
from sync.web.context import WebContext

ACTOR = "console"


class ActionRefused(ValueError):
    """The action does not apply (any more); the message says why, for the page."""


def _audit(
    db: Session,
    user: str,
    action: str,
    now: dt.datetime,
    *,
    deal: str = "",
    partner: str = "",
    detail: str = "",
) -> None:
    row = AuditRow(
        at=now,
        agency_deal_id=deal,
        partner_code=partner,
        action=f"console.{action}"[:32],
        changed_by=ACTOR,
        detail=f"{ACTOR}:{user} — {detail}".strip(" —")[:2000],
    )
    audit.append(db, [row])


def sign_in(ctx: WebContext, user: str) -> None:
    with ctx.store.transaction() as db:
        _audit(db, user, "sign_in", ctx.clock(), detail="signed in")


def sign_out(ctx: WebContext, user: str) -> None:
    with ctx.store.transaction() as db:
        _audit(db, user, "sign_out", ctx.clock(), detail="signed out")


def retry(ctx: WebContext, user: str, link_id: int) -> str:
    """Queue a parked link for the next pass; returns its agency deal id."""
    now = ctx.clock()
    with ctx.store.transaction() as db:
        row = links.get(db, link_id)
        if row is None or row.status != LinkStatus.PARKED.value:
            raise ActionRefused("not_parked")
        hint = Hint(ctx.agency_system, row.agency_deal_id, HintKind.UPDATED, now, "retry")
        inbox.add(db, [hint], dt.timedelta(0))
        _audit(
            db,
            user,
            "retry",
            now,
            deal=row.agency_deal_id,
            partner=row.partner_code,
            detail=f"retry of parked link #{link_id} ({row.park_reason or ''})",
        )
        return row.agency_deal_id


def unlink(ctx: WebContext, user: str, link_id: int) -> str:
    """Stop syncing a link (it is closed, never deleted; both deals stay in their CRMs)."""
    now = ctx.clock()
    with ctx.store.transaction() as db:
        row = links.get(db, link_id)
        if row is None or row.status in (LinkStatus.CLOSED.value,):
            raise ActionRefused("not_linked")
        before = row.status
        row.status = LinkStatus.CLOSED.value
        links.save(db, row, now)
        _audit(
            db,
            user,
            "unlink",
            now,
            deal=row.agency_deal_id,
            partner=row.partner_code,
            detail=f"link #{link_id} closed (was {before})",
        )
        return row.agency_deal_id


def confirm_held(ctx: WebContext, user: str, flag_id: int) -> str:
    now = ctx.clock()
    with ctx.store.transaction() as db:
        flag = db.get(ChannelFlagRow, flag_id)
        if flag is None or not confirm(
            db, flag.agency_deal_id, flag.partner_code, now, agency_system=ctx.agency_system
        ):
            raise ActionRefused("not_held")
        _audit(
            db,
            user,
            "confirm_channel",
            now,
            deal=flag.agency_deal_id,
            partner=flag.partner_code,
            detail="channel conflict confirmed: send to partner",
        )
        return flag.agency_deal_id


def reroute(ctx: WebContext, user: str, agency_deal_id: str, source: str, target: str) -> str:
    """Send an agency deal to ``target`` instead of ``source``: through the agency CRM.

    The console writes the target partner's ``routing_value`` to the agency deal's
    routing field (in a multiple field, in place of the source partner's value), audits
    it, and queues the deal, so the next pass closes the old link and creates the new
    one the way it would after a person changed the field in Bitrix24. A channel-conflict
    hold on the source partner is released: the manager has decided where the deal goes.
    """
    mapping, crm = ctx.mapping(), ctx.agency_crm()
    if mapping is None or crm is None:
        raise ActionRefused("no_crm")
    if source not in mapping.partners or target not in mapping.partners or source == target:
        raise ActionRefused("bad_target")
    if mapping.partners[target].paused:
        raise ActionRefused("target_paused")
    with ctx.store.transaction() as db:
        linked = [r for r in links.by_agency_ids(db, [agency_deal_id]) if r.partner_code == source]
        flags = [
            f for f in held(db) if (f.agency_deal_id, f.partner_code) == (agency_deal_id, source)
        ]
    if not any(r.status != LinkStatus.CLOSED.value for r in linked) and not flags:
        raise ActionRefused("not_linked")
    value = _routed_value(crm, mapping, agency_deal_id, source, target)
    field = mapping.agency.routing_field_id
    try:
        result = crm.update_deals([DealPatch(deal_id=agency_deal_id, fields={field: value})])[0]
    except CrmError:
        raise ActionRefused("crm_failed") from None
    if not result.ok:
        raise ActionRefused("crm_failed")
    now = ctx.clock()
    with ctx.store.transaction() as db:
        hint = Hint(ctx.agency_system, agency_deal_id, HintKind.UPDATED, now, "reroute")
        inbox.add(db, [hint], dt.timedelta(0))
        for flag in flags:
            row = db.get(ChannelFlagRow, flag.id)
            if row is not None:
                row.held = False
                row.detail = f"{row.detail or ''}\nre-routed to {target} by {ACTOR}:{user}".strip()
                db.add(row)
        _audit(
            db,
            user,
            "reroute",
            now,
            deal=agency_deal_id,
            partner=target,
            detail=f"re-routed from {source} to {target}: {field} = {_shown(value)}",
        )
    return agency_deal_id


def _routed_value(
    crm: Crm, mapping: CompiledMapping, agency_deal_id: str, source: str, target: str
) -> FieldValue:
    """The routing field's new value: the target's option (kept with others when multiple)."""
    wanted = mapping.partners[target].routing_value
    if not mapping.agency.routing_multiple:
        return wanted
    try:
        deal = crm.fetch_deals([agency_deal_id]).get(agency_deal_id)
    except CrmError:
        raise ActionRefused("crm_failed") from None
    if deal is None:
        raise ActionRefused("no_deal")
    now = deal.fields.get(mapping.agency.routing_field_id)
    current = now if isinstance(now, tuple) else (() if now in (None, "") else (str(now),))
    dropped = mapping.partners[source].routing_value
    kept = [v for v in current if v not in (dropped, wanted)]
    return (*kept, wanted)


def _shown(value: FieldValue) -> str:
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def record_payout(
    ctx: WebContext,
    user: str,
    partner: str,
    amount: Decimal,
    currency: str,
    payer: Side,
    ref: str,
    request_id: int | None = None,
) -> bool:
    """Book a payment; with ``request_id`` also close that payout request. False: known ref."""
    now = ctx.clock()
    if partner not in ctx.partner_codes():
        raise ActionRefused("unknown_partner")
    with ctx.store.transaction() as db:
        request = None
        if request_id is not None:
            request = payout_requests.get(db, request_id, partner)
            if request is None or request.status != payout_requests.RequestStatus.OPEN.value:
                raise ActionRefused("no_request")
        reference = ref.strip() or f"console:{now.isoformat()}:{amount}"
        entry = payout_entry(partner, Money(amount, currency), payer=payer, at=now, ref=reference)
        added = book.append(db, [entry], now)
        if request is not None:
            payout_requests.close(db, request, reference, now)
        _audit(
            db,
            user,
            "payout",
            now,
            partner=partner,
            detail=f"payout {amount} {currency} by {payer.value}, ref {reference}"
            + (f", request #{request_id}" if request_id else ""),
        )
        return bool(added)


def void(ctx: WebContext, user: str, entry_id: int, reason: str) -> None:
    """Void an entry; :func:`bridge.ledger.book.void_entry` audits it as ``console:USER``."""
    with ctx.store.transaction() as db:
        try:
            book.void_entry(db, entry_id, reason, f"{ACTOR}:{user}", ctx.clock())
        except book.VoidRefused as exc:
            raise ActionRefused(str(exc)) from None


def revoke_cabinet(ctx: WebContext, user: str, partner: str) -> int:
    now = ctx.clock()
    with ctx.store.transaction() as db:
        version = keys.revoke(db, partner, f"{ACTOR}:{user}", now)
        _audit(db, user, "cabinet_revoke", now, partner=partner, detail="cabinet links revoked")
        return version


def cabinet_link_issued(ctx: WebContext, user: str, partner: str, days: int) -> None:
    with ctx.store.transaction() as db:
        _audit(
            db,
            user,
            "cabinet_link",
            ctx.clock(),
            partner=partner,
            detail=f"cabinet link issued for {days} days",
        )
