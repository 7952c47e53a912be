"""The partner cabinet (``/p/…``): one partner's deals, entries, balance, statements,
payout requests. Every query here is filtered by the session's partner code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bridge.cabinet import keys
from bridge.cabinet import requests as payout_requests
from bridge.cabinet.signing import LinkRefused, verify
from bridge.ledger import book
from bridge.ledger.balances import balances
from bridge.store import links
from sync.web import queries
from sync.web.console_ledger import parse_amount
from sync.web.context import StageNames
from sync.web.guards import (
    Denied,
    Upload,
    Visitor,
    cabinet_partner,
    checked_form,
    ctx_of,
    key_of,
)
from sync.web.ratings import own_position
from sync.web.render import language, page
from sync.web.session import CABINET_COOKIE, clear_cookie, encode, new_session, set_cookie
from sync.web.statements import period_or_this_month, statement_html, statement_response

router = APIRouter(prefix="/p")
Partner = Annotated[Visitor, Depends(cabinet_partner)]
SESSION_HOURS = 8


@router.get("/enter/{token}")
def enter(request: Request, token: str) -> Response:
    """Open a session for the link's partner, then move on to the cabinet (same-site)."""
    ctx = ctx_of(request)
    key = key_of(ctx)
    now = ctx.clock()
    code = _claimed_partner(token)
    with ctx.store.transaction() as db:
        version = keys.current(db, code) if code in ctx.partner_codes() else None
    try:
        grant = verify(token[:512], key, version, now)
    except LinkRefused as exc:
        raise Denied(exc.problem.value) from None
    lifetime = min(dt.timedelta(hours=SESSION_HOURS), grant.expires_at - now)
    session = new_session(
        "cabinet",
        grant.partner_code,
        now,
        lifetime,
        partner=grant.partner_code,
        version=grant.version,
    )
    response = page(
        request, "cabinet/enter.html", partner_name=ctx.partner_name(grant.partner_code)
    )
    set_cookie(
        response, request, CABINET_COOKIE, encode(session, key), int(lifetime.total_seconds()), "/p"
    )
    return response


def _claimed_partner(token: str) -> str:
    """The partner a token claims to be for (unverified; only picks the key version)."""
    import base64

    payload = token.partition(".")[0]
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except ValueError:
        return ""
    return text.rsplit(".", 2)[0] if text.count(".") >= 2 else ""


@router.get("/")
def home(request: Request, visitor: Partner, done: str = "") -> Response:
    ctx = ctx_of(request)
    code = visitor.session.partner or ""
    now = ctx.clock()
    with ctx.store.transaction() as db:
        # Deals that reached the partner: one still waiting to be created there is not its yet.
        rows = [r for r in links.for_partner(db, code) if r.partner_deal_id]
        entries = book.read(db, partner=code)
        entry_rows = queries.entry_rows(db, partner=code)
        voids = book.voided_ids(db, partner=code)
        titles = queries.deal_titles(db, code)
        payable = queries.available_for_payout(db, code, now)
        my_requests = payout_requests.listing(db, code)
        mapping = ctx.mapping()
        rating = own_position(db, mapping, code, now)
    stale_after = (
        mapping.partners[code].policies.stale_after
        if mapping and code in mapping.partners
        else dt.timedelta(days=7)
    )
    return page(
        request,
        "cabinet/home.html",
        visitor=visitor,
        partner_name=ctx.partner_name(code),
        deals=rows,
        entries=entry_rows,
        states=queries.entry_states(entry_rows, entries, voids, now),
        balances=balances(entries, now),
        titles=titles,
        payable=payable,
        requests=my_requests,
        values=queries.synced_values,
        stage=_stages(ctx.stage_names(), code),
        now=now,
        stale_after=stale_after,
        done=done,
        months=_recent_months(now),
        rating=rating,
    )


def _stages(names: StageNames, code: str) -> Callable[[str, str | None], str]:
    """``stage("agency" | "partner", id)`` for the cabinet's templates."""

    def name(side: str, stage_id: str | None) -> str:
        if not stage_id:
            return "—"
        return names.get("agency" if side == "agency" else code, {}).get(stage_id, stage_id)

    return name


def _recent_months(now: dt.datetime, count: int = 6) -> list[str]:
    out, year, month = [], now.year, now.month
    for _ in range(count):
        out.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


@router.get("/statement")
def statement(
    request: Request, visitor: Partner, period: str = "", format: str = "html"
) -> Response:
    ctx = ctx_of(request)
    code = visitor.session.partner or ""
    now = ctx.clock()
    chosen = period_or_this_month(period, now)
    with ctx.store.transaction() as db:
        html = statement_html(
            db, ctx.mapping(), code, ctx.partner_name(code), chosen, now, language(request)
        )
    return statement_response(html, format, f"statement-{chosen.spec}")


@router.post("/payout")
async def request_payout(request: Request, visitor: Partner) -> Response:
    form = await checked_form(request, visitor)
    ctx = ctx_of(request)
    code = visitor.session.partner or ""
    amount = parse_amount(form.get("amount"))
    currency = str(form.get("currency", "RUB")).upper()[:3]
    upload = form.get("invoice")
    note = str(form.get("note", ""))[:500]
    if amount is None:
        return _home(error="amount")
    if not isinstance(upload, Upload):
        return _home(error="invoice")
    data = upload.data

    def create() -> str:
        with ctx.store.transaction() as db:
            payable = queries.available_for_payout(db, code, ctx.clock()).get(currency, Decimal(0))
            if amount > payable:
                return "too_much"
            try:
                payout_requests.create(
                    db,
                    code,
                    amount,
                    currency,
                    upload.filename or "invoice.pdf",
                    data,
                    ctx.clock(),
                    note,
                )
            except payout_requests.InvoiceRejected:
                return "invoice"
        return ""

    problem = await run_in_threadpool(create)
    return _home(error=problem) if problem else _home(done="requested")


def _home(done: str = "", error: str = "") -> RedirectResponse:
    query = f"?done={done}" if done else f"?done=error_{error}" if error else ""
    return RedirectResponse(f"/p/{query}", status_code=303)


@router.get("/requests/{request_id}/invoice")
def invoice(request: Request, visitor: Partner, request_id: int) -> Response:
    ctx = ctx_of(request)
    with ctx.store.transaction() as db:
        row = payout_requests.get(db, request_id, visitor.session.partner)
    if row is None:
        raise Denied("not_yours")
    return Response(
        row.invoice,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="invoice-{row.id}.pdf"'},
    )


@router.post("/logout")
async def logout(request: Request, visitor: Partner) -> Response:
    await checked_form(request, visitor)
    session = visitor.session
    await run_in_threadpool(ctx_of(request).sign_out, session.sid, "cabinet", session.expires)
    response = page(request, "cabinet/bye.html")
    clear_cookie(response, request, CABINET_COOKIE, "/p")
    return response
