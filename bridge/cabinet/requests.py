"""Payout requests: a partner asks, the console lists, recording the payout closes it."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from enum import StrEnum

from sqlmodel import Session, col, select

from bridge.cabinet.tables import PayoutRequestRow

MAX_INVOICE_BYTES = 5 * 1024 * 1024
PDF_MAGIC = b"%PDF-"


class RequestStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"


class InvoiceRejected(ValueError):
    """The uploaded invoice is not a PDF of an acceptable size; the message says which."""


def check_invoice(name: str, data: bytes) -> None:
    if not data:
        raise InvoiceRejected("the invoice file is empty")
    if len(data) > MAX_INVOICE_BYTES:
        raise InvoiceRejected(f"the invoice is larger than {MAX_INVOICE_BYTES // (1024 * 1024)} MB")
    if not data.startswith(PDF_MAGIC) or not name.lower().endswith(".pdf"):
        raise InvoiceRejected("the invoice must be a PDF file")


def create(
    session: Session,
    partner_code: str,
    amount: Decimal,
    currency: str,
    invoice_name: str,
    invoice: bytes,
    now: dt.datetime,
    note: str | None = None,
) -> PayoutRequestRow:
    check_invoice(invoice_name, invoice)
    row = PayoutRequestRow(
        partner_code=partner_code,
        amount=amount,
        currency=currency,
        note=(note or None) and note[:500],
        status=RequestStatus.OPEN.value,
        invoice_name=invoice_name[-200:],
        invoice_sha256=hashlib.sha256(invoice).hexdigest(),
        invoice=invoice,
        requested_at=now,
    )
    session.add(row)
    session.flush()
    return row


def listing(
    session: Session, partner_code: str | None = None, *, open_only: bool = False
) -> list[PayoutRequestRow]:
    """Requests newest first; ``partner_code`` limits them to one partner."""
    query = select(PayoutRequestRow)
    if partner_code is not None:
        query = query.where(PayoutRequestRow.partner_code == partner_code)
    if open_only:
        query = query.where(PayoutRequestRow.status == RequestStatus.OPEN.value)
    return list(session.exec(query.order_by(col(PayoutRequestRow.id).desc())))


def get(
    session: Session, request_id: int, partner_code: str | None = None
) -> PayoutRequestRow | None:
    """One request; with ``partner_code``, only if it is that partner's."""
    row = session.get(PayoutRequestRow, request_id)
    if row is None or (partner_code is not None and row.partner_code != partner_code):
        return None
    return row


def close(session: Session, row: PayoutRequestRow, payout_ref: str, now: dt.datetime) -> None:
    row.status = RequestStatus.PAID.value
    row.closed_at = now
    row.payout_ref = payout_ref[:200]
    session.add(row)
