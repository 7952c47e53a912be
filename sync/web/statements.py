"""Statements for pages: a partner's period as the printable HTML page or as a PDF.

The HTML is :func:`bridge.ledger.html.to_html` — the same page the CLI writes —
with deal titles and the agency's name; the PDF is that page through WeasyPrint
(no browser needed, :mod:`bridge.ledger.pdf`). An empty period still lists ``0,00 ₽`` balances.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from fastapi.responses import Response
from sqlmodel import Session

from bridge.ledger import book
from bridge.ledger.balances import Direction
from bridge.ledger.html import to_html
from bridge.ledger.locale import Texts
from bridge.ledger.pdf import html_to_pdf
from bridge.ledger.statement import Period, Statement, build_statement
from bridge.mapping.compiled import CompiledMapping, Side
from bridge.mapping.texts import statement_overrides
from sync.web.queries import deal_titles


def period_or_this_month(spec: str, now: dt.datetime) -> Period:
    try:
        return Period.parse(spec) if spec else Period.containing(now.date())
    except ValueError:
        return Period.containing(now.date())


def statement_html(
    db: Session,
    mapping: CompiledMapping | None,
    partner: str,
    partner_name: str,
    period: Period,
    now: dt.datetime,
    lang: str,
) -> str:
    entries = book.read(db, partner=partner)
    texts = Texts(lang, statement_overrides(mapping.texts if mapping else {}, lang))
    built = build_statement(
        entries, partner, period, now, partner_name=partner_name, agency_name=texts["agency_name"]
    )
    return to_html(_with_zero_rows(built, mapping), texts, deal_titles(db, partner))


def _with_zero_rows(built: Statement, mapping: CompiledMapping | None) -> Statement:
    """Every direction the partner's commission can book shows a row, ``0,00 ₽`` if empty."""
    config = mapping.partners.get(built.partner) if mapping else None
    if config is None:
        return built
    wanted: set[Direction] = {(built.partner, r.payer, r.currency) for r in config.commission.rules}
    if config.commission.membership_fee is not None:
        wanted.add((built.partner, Side.PARTNER, config.commission.membership_fee.currency))
    zero = dict.fromkeys(wanted, Decimal(0))
    return dataclasses.replace(
        built, opening={**zero, **built.opening}, closing={**zero, **built.closing}
    )


def statement_response(html: str, fmt: str, filename: str) -> Response:
    if fmt == "pdf":
        return Response(
            html_to_pdf(html),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
        )
    return Response(html, media_type="text/html; charset=utf-8")
