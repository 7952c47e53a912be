"""Console pages: sign-in, overview, deals, parked and held, KPIs, mapping."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bridge.channels.conflicts import held
from bridge.kpi.groups import group_of
from bridge.kpi.report import PartnerInfo, build_report, parse_period
from bridge.mapping.compiled import GROUP_KEYS
from bridge.secrets import constant_time_equal
from bridge.store import inbox, links
from sync.web import actions, queries
from sync.web.context import StageNames, WebContext
from sync.web.declines import decline_section
from sync.web.guards import (
    Denied,
    Visitor,
    checked_form,
    console_user,
    ctx_of,
    key_of,
)
from sync.web.render import language, page
from sync.web.session import (
    CONSOLE_COOKIE,
    LOGIN_COOKIE,
    clear_cookie,
    csrf_ok,
    csrf_token,
    encode,
    new_session,
    set_cookie,
)
from sync.web.words import describe

router = APIRouter(prefix="/console")
User = Annotated[Visitor, Depends(console_user)]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(value: object) -> str:
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/console/") and "//" not in text else "/console/"


# --- sign-in ------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str = "/console/", failed: int = 0) -> Response:
    ctx = ctx_of(request)
    key = key_of(ctx)
    if ctx.admin_token is None:
        raise Denied("disabled")
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    response = page(
        request,
        "console/login.html",
        status_code=401 if failed else 200,
        csrf=csrf_token(key, f"login:{nonce}"),
        next=_safe_next(next),
        failed=bool(failed),
        user=None,
    )
    set_cookie(response, request, LOGIN_COOKIE, nonce, 1800, "/console/login")
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = ctx_of(request)
    key = key_of(ctx)
    async with request.form() as form:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    csrf = values.get("csrf")
    if not nonce or not csrf_ok(key, f"login:{nonce}", csrf if isinstance(csrf, str) else None):
        raise Denied("csrf")
    token, name = values.get("token"), values.get("name")
    next_path = _safe_next(values.get("next"))
    client = request.client.host if request.client else "?"
    if ctx.login_blocked(client):
        raise Denied("too_many")
    if (
        ctx.admin_token is None
        or not isinstance(token, str)
        or not constant_time_equal(token.strip(), ctx.admin_token.reveal())
    ):
        ctx.login_failed(client)
        return _see_other(f"/console/login?failed=1&next={quote(next_path)}")
    user = (name if isinstance(name, str) else "").strip()[:60] or "admin"
    lifetime = dt.timedelta(hours=ctx.session_hours)
    session = new_session("console", user, ctx.clock(), lifetime)
    await run_in_threadpool(actions.sign_in, ctx, user)
    response = _see_other(next_path)
    set_cookie(
        response,
        request,
        CONSOLE_COOKIE,
        encode(session, key),
        int(lifetime.total_seconds()),
        "/console",
    )
    clear_cookie(response, request, LOGIN_COOKIE, "/console/login")
    return response


@router.post("/logout")
async def logout(request: Request, user: User) -> Response:
    await checked_form(request, user)
    ctx = ctx_of(request)
    await run_in_threadpool(ctx.sign_out, user.session.sid, "console", user.session.expires)
    await run_in_threadpool(actions.sign_out, ctx, user.session.name)
    response = _see_other("/console/login")
    clear_cookie(response, request, CONSOLE_COOKIE, "/console")
    return response


# --- overview -----------------------------------------------------------------------


@router.get("/")
def overview(
    request: Request, user: User, segment: str = "", manager: str = "", grade: str = ""
) -> Response:
    """Per-partner health; ``segment``/``manager``/``grade`` keep that group's partners."""
    ctx = ctx_of(request)
    now = ctx.clock()
    names = {c: ctx.partner_name(c) for c in ctx.partner_codes()}
    mapping = ctx.mapping()
    groups = {c: p.groups for c, p in (mapping.partners.items() if mapping else [])}
    wanted = {
        k: v for k, v in {"segment": segment, "manager": manager, "grade": grade}.items() if v
    }
    with ctx.store.transaction() as db:
        rows = queries.overview(db, mapping, names, now, ctx.live_failures())
        waiting = sum(inbox.pending_count(db).values())
    if wanted:
        rows = [
            r
            for r in rows
            if (g := groups.get(r.code)) and all(g.of(k) == v for k, v in wanted.items())
        ]
    return page(
        request,
        "console/overview.html",
        user=user,
        rows=rows,
        now=now,
        waiting=waiting,
        budget=ctx.agency_budget(),
        groups=groups,
        wanted=wanted,
    )


# --- deals --------------------------------------------------------------------------


@router.get("/deals")
def deals(request: Request, user: User, q: str = "", partner: str = "") -> Response:
    ctx = ctx_of(request)
    with ctx.store.transaction() as db:
        rows = queries.search_links(db, q[:200], partner or None)
    names = ctx.stage_names()
    return page(
        request,
        "console/deals.html",
        user=user,
        rows=rows,
        q=q,
        partner=partner,
        partners={c: ctx.partner_name(c) for c in ctx.partner_codes()},
        title_of=queries.title_of,
        stage=_stage_namer(names),
    )


def _stage_namer(names: StageNames) -> Callable[[str, str | None], str]:
    """``stage(side, id)`` for templates: the stage's name, or its id if the CRM is unknown."""

    def name(side: str, stage_id: str | None) -> str:
        if not stage_id:
            return "—"
        return names.get(side, {}).get(stage_id, stage_id)

    return name


@router.get("/deals/{agency_deal_id}")
def deal(
    request: Request, user: User, agency_deal_id: str, done: str = "", error: str = ""
) -> Response:
    ctx = ctx_of(request)
    now = ctx.clock()
    with ctx.store.transaction() as db:
        found = queries.deal_page(db, agency_deal_id[:64])
        states = {}
        if found is not None and found.entries:
            from bridge.ledger import book

            partners = {r.partner_code for r in found.entries}
            everything = [e for p in partners for e in book.read(db, partner=p)]
            states = queries.entry_states(found.entries, everything, found.voids, now)
    if found is None:
        return page(request, "console/not_found.html", 404, user=user, what=agency_deal_id)
    mapping = ctx.mapping()
    fields = {
        code: (mapping.partners[code].fields if mapping and code in mapping.partners else ())
        for code in {r.partner_code for r in found.links}
    }
    return page(
        request,
        "console/deal.html",
        user=user,
        d=found,
        fields=fields,
        states=states,
        values=queries.synced_values,
        stage=_stage_namer(ctx.stage_names()),
        now=now,
        partner_name=ctx.partner_name,
        voids=found.voids,
        describe=lambda row: describe(row, language(request), _stage_namer(ctx.stage_names())),
        done=done if done in _DEAL_DONE else "",
        error=error if error in _REROUTE_ERRORS else "",
        partners=_partners(ctx),
        can_reroute=ctx.agency_crm() is not None,
    )


_DEAL_DONE = {"rerouted"}
_REROUTE_ERRORS = {"no_crm", "bad_target", "target_paused", "crm_failed", "no_deal", "not_linked"}


def _partners(ctx: WebContext) -> dict[str, str]:
    """The re-route forms' choice: the mapping's partners by code, with their names."""
    return {c: ctx.partner_name(c) for c in ctx.partner_codes()}


# --- parked and held ----------------------------------------------------------------


@router.get("/parked")
def parked(
    request: Request, user: User, done: str = "", error: str = "", rerouted: str = ""
) -> Response:
    ctx = ctx_of(request)
    with ctx.store.transaction() as db:
        rows = links.parked(db)
        flags = held(db)
        titles = queries.deal_titles(db)
    return page(
        request,
        "console/parked.html",
        user=user,
        rows=rows,
        flags=flags,
        titles=titles,
        done=done,
        error=error,
        rerouted=rerouted,
        partner_name=ctx.partner_name,
        now=ctx.clock(),
        partners=_partners(ctx),
        can_reroute=ctx.agency_crm() is not None,
    )


async def _act(
    request: Request, user: Visitor, action: Callable[[WebContext, str, int], str], target: int
) -> Response:
    await checked_form(request, user)
    ctx = ctx_of(request)
    try:
        deal_id = await run_in_threadpool(action, ctx, user.session.name, target)
    except actions.ActionRefused as exc:
        return _see_other(f"/console/parked?error={exc}")
    return _see_other(f"/console/parked?done={deal_id}")


@router.post("/parked/{link_id}/retry")
async def retry(request: Request, user: User, link_id: int) -> Response:
    return await _act(request, user, actions.retry, link_id)


@router.post("/parked/{link_id}/unlink")
async def unlink(request: Request, user: User, link_id: int) -> Response:
    return await _act(request, user, actions.unlink, link_id)


@router.post("/held/{flag_id}/confirm")
async def confirm_held(request: Request, user: User, flag_id: int) -> Response:
    return await _act(request, user, actions.confirm_held, flag_id)


@router.post("/deals/{agency_deal_id}/reroute")
async def reroute(request: Request, user: User, agency_deal_id: str) -> Response:
    """Send a parked, held or linked deal to another partner (see :func:`actions.reroute`)."""
    form = await checked_form(request, user)
    ctx = ctx_of(request)
    deal_id = agency_deal_id[:64]
    source, target = str(form.get("from", "")), str(form.get("partner", ""))
    back = f"/console/deals/{quote(deal_id)}?" if form.get("back") == "deal" else "/console/parked?"
    try:
        await run_in_threadpool(actions.reroute, ctx, user.session.name, deal_id, source, target)
    except actions.ActionRefused as exc:
        return _see_other(f"{back}error={exc}")
    done = "done=rerouted" if back.startswith("/console/deals/") else f"rerouted={quote(deal_id)}"
    return _see_other(back + done)


# --- KPIs and mapping -----------------------------------------------------------------


@router.get("/kpi")
def kpi(
    request: Request,
    user: User,
    period: str = "",
    by: str = "",
    segment: str = "",
    manager: str = "",
    grade: str = "",
) -> Response:
    """KPIs per partner, or per segment/manager/grade (``by``), filtered by any of them."""
    ctx = ctx_of(request)
    try:
        chosen = parse_period(period or None)
    except ValueError:
        chosen, period = None, ""
    mapping = ctx.mapping()
    infos = {
        c: PartnerInfo(p.name, p.policies.stale_after, p.groups)
        for c, p in (mapping.partners.items() if mapping else [])
    }
    filters = {"segment": segment, "manager": manager, "grade": grade}
    wanted = {key: value for key, value in filters.items() if value}
    among = [c for c, i in infos.items() if all(i.groups.of(k) == v for k, v in wanted.items())]
    report = build_report(
        ctx.store,
        ctx.clock(),
        period=chosen,
        partners=infos,
        currency=mapping.agency.currency if mapping else "RUB",
        language=language(request),
        by=by if by in GROUP_KEYS else None,
        among=among if wanted else None,
    )
    choices = {
        key: sorted({v for i in infos.values() if (v := i.groups.of(key))}) for key in GROUP_KEYS
    }
    return page(
        request,
        "console/kpi.html",
        user=user,
        report=report,
        period=period,
        by=report.by or "",
        filters=filters,
        choices=choices,
        shown=[] if report.by else [key for key in GROUP_KEYS if choices[key]],
        group_of=group_of,
        declines=decline_section(ctx.store, mapping, ctx.clock(), language(request)),
    )


@router.get("/mapping")
def mapping_page(request: Request, user: User) -> Response:
    ctx = ctx_of(request)
    return page(
        request,
        "console/mapping.html",
        user=user,
        mapping=ctx.mapping(),
        info=ctx.mapping_info(),
        stage=_stage_namer(ctx.stage_names()),
    )
