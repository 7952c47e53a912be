"""Console ledger pages: balances, entries, payouts, voids, statements, payout requests,
and the partners' cabinet links (issue, revoke)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bridge.cabinet import requests as payout_requests
from bridge.ledger import book
from bridge.ledger.entries import EntryKind
from bridge.mapping.compiled import Side
from sync.web import actions, queries
from sync.web.console import User
from sync.web.guards import checked_form, ctx_of, key_of
from sync.web.links import DEFAULT_DAYS, cabinet_url
from sync.web.render import language, page
from sync.web.statements import period_or_this_month, statement_html, statement_response

router = APIRouter(prefix="/console")


def _back(message: str = "", error: str = "", anchor: str = "") -> RedirectResponse:
    query = f"?done={quote(message)}" if message else f"?error={quote(error)}" if error else ""
    return RedirectResponse(f"/console/ledger{query}{anchor}", status_code=303)


def parse_amount(text: object) -> Decimal | None:
    if not isinstance(text, str):
        return None
    try:
        value = Decimal(text.replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except InvalidOperation:
        return None
    return (
        value
        if value.is_finite() and value > 0 and value == value.quantize(Decimal("0.01"))
        else None
    )


@router.get("/ledger")
def ledger(
    request: Request,
    user: User,
    partner: str = "",
    kind: str = "",
    period: str = "",
    done: str = "",
    error: str = "",
) -> Response:
    ctx = ctx_of(request)
    now = ctx.clock()
    chosen = period_or_this_month(period, now) if period else None
    with ctx.store.transaction() as db:
        summary = queries.ledger_summary(db, now)
        rows = queries.entry_rows(
            db,
            partner=partner or None,
            kind=kind or None,
            since=chosen.start_at if chosen else None,
            until=chosen.end_at if chosen else None,
        )
        voids = book.voided_ids(db)
        states = queries.entry_states(rows, book.read(db), voids, now)
        open_requests = payout_requests.listing(db, open_only=True)
        titles = queries.deal_titles(db)
    return page(
        request,
        "console/ledger.html",
        user=user,
        summary=summary,
        rows=rows,
        voids=voids,
        states=states,
        requests=open_requests,
        titles=titles,
        partner=partner,
        kind=kind,
        period=period,
        kinds=[k.value for k in EntryKind],
        partners={c: ctx.partner_name(c) for c in ctx.partner_codes()},
        done=done,
        error=error,
        now=now,
        partner_name=ctx.partner_name,
        this_month=period_or_this_month("", now).spec,
    )


@router.post("/ledger/payout")
async def payout(request: Request, user: User) -> Response:
    form = await checked_form(request, user)
    ctx = ctx_of(request)
    amount = parse_amount(form.get("amount"))
    partner, currency = str(form.get("partner", "")), str(form.get("currency", "RUB")).upper()
    payer_text, ref = str(form.get("payer", "")), str(form.get("ref", ""))[:150]
    request_id = str(form.get("request_id", ""))
    if amount is None:
        return _back(error="amount")
    if payer_text not in (Side.AGENCY.value, Side.PARTNER.value) or len(currency) != 3:
        return _back(error="payer")
    try:
        added = await run_in_threadpool(
            actions.record_payout,
            ctx,
            user.session.name,
            partner,
            amount,
            currency,
            Side(payer_text),
            ref,
            int(request_id) if request_id.isdigit() else None,
        )
    except actions.ActionRefused as exc:
        return _back(error=str(exc))
    return _back("payout" if added else "payout_known")


@router.post("/ledger/entries/{entry_id}/void")
async def void(request: Request, user: User, entry_id: int) -> Response:
    form = await checked_form(request, user)
    reason = str(form.get("reason", "")).strip()[:150]
    if not reason:
        return _back(error="reason")
    try:
        await run_in_threadpool(actions.void, ctx_of(request), user.session.name, entry_id, reason)
    except actions.ActionRefused as exc:
        return _back(error=str(exc))
    return _back("voided")


@router.get("/ledger/statement")
def statement(
    request: Request, user: User, partner: str = "", period: str = "", format: str = "html"
) -> Response:
    ctx = ctx_of(request)
    if partner not in ctx.partner_codes():
        return page(request, "console/not_found.html", 404, user=user, what=partner)
    now = ctx.clock()
    chosen = period_or_this_month(period, now)
    with ctx.store.transaction() as db:
        html = statement_html(
            db, ctx.mapping(), partner, ctx.partner_name(partner), chosen, now, language(request)
        )
    return statement_response(html, format, f"statement-{partner}-{chosen.spec}")


@router.get("/ledger/requests/{request_id}/invoice")
def invoice(request: Request, user: User, request_id: int) -> Response:
    ctx = ctx_of(request)
    with ctx.store.transaction() as db:
        row = payout_requests.get(db, request_id)
    if row is None:
        return page(request, "console/not_found.html", 404, user=user, what=str(request_id))
    return Response(
        row.invoice,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="invoice-{row.id}.pdf"'},
    )


# --- cabinet links ------------------------------------------------------------------------


@router.get("/cabinets")
def cabinets(request: Request, user: User, done: str = "") -> Response:
    ctx = ctx_of(request)
    with ctx.store.transaction() as db:
        requests = payout_requests.listing(db)
    return page(
        request,
        "console/cabinets.html",
        user=user,
        done=done,
        link=None,
        requests=requests,
        partners={c: ctx.partner_name(c) for c in ctx.partner_codes()},
    )


@router.post("/cabinets/{partner}/link")
async def issue_link(request: Request, user: User, partner: str) -> Response:
    form = await checked_form(request, user)
    ctx = ctx_of(request)
    if partner not in ctx.partner_codes():
        return page(request, "console/not_found.html", 404, user=user, what=partner)
    days_text = str(form.get("days", DEFAULT_DAYS))
    days = int(days_text) if days_text.isdigit() and 0 < int(days_text) <= 365 else DEFAULT_DAYS
    base = ctx.public_url or str(request.base_url)

    def issue() -> str:
        with ctx.store.transaction() as db:
            url = cabinet_url(db, key_of(ctx), base, partner, days, ctx.clock())
        actions.cabinet_link_issued(ctx, user.session.name, partner, days)
        return url

    url = await run_in_threadpool(issue)
    with ctx.store.transaction() as db:
        requests = payout_requests.listing(db)
    return page(
        request,
        "console/cabinets.html",
        user=user,
        done="",
        link=(partner, url, days),
        requests=requests,
        partners={c: ctx.partner_name(c) for c in ctx.partner_codes()},
    )


@router.post("/cabinets/{partner}/revoke")
async def revoke(request: Request, user: User, partner: str) -> Response:
    await checked_form(request, user)
    ctx = ctx_of(request)
    if partner not in ctx.partner_codes():
        return page(request, "console/not_found.html", 404, user=user, what=partner)
    await run_in_threadpool(actions.revoke_cabinet, ctx, user.session.name, partner)
    return RedirectResponse(f"/console/cabinets?done={quote(partner)}", status_code=303)
