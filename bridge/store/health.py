"""Per-partner health: last success, last error and how many passes failed in a row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from bridge.store.tables import PartnerHealthRow


@dataclass(frozen=True, slots=True)
class PartnerHealth:
    """One partner's (or the agency's) record of passes: last success, last error."""

    partner_code: str
    last_success_at: dt.datetime | None
    last_error_at: dt.datetime | None
    last_error: str | None
    error_kind: str | None
    consecutive_failures: int


def _row(session: Session, partner_code: str) -> PartnerHealthRow:
    row = session.get(PartnerHealthRow, partner_code)
    return row or PartnerHealthRow(partner_code=partner_code)


def success(session: Session, partner_code: str, now: dt.datetime) -> None:
    succeeded(session, [partner_code], now)


def succeeded(session: Session, partner_codes: Sequence[str], now: dt.datetime) -> None:
    """Each of ``partner_codes`` passed at ``now``: their rows read in one query (a pass
    of 200 partners wraps up in one transaction, not 200 lookups)."""
    if not partner_codes:
        return
    wanted = set(partner_codes)
    found = session.exec(
        select(PartnerHealthRow).where(col(PartnerHealthRow.partner_code).in_(sorted(wanted)))
    )
    rows = {r.partner_code: r for r in found}
    for code in sorted(wanted):
        row = rows.get(code) or PartnerHealthRow(partner_code=code)
        row.last_success_at = now
        row.consecutive_failures = 0
        session.add(row)


def failure(session: Session, partner_code: str, kind: str, message: str, now: dt.datetime) -> None:
    row = _row(session, partner_code)
    row.last_error_at = now
    row.last_error = message[:2000]
    row.error_kind = kind
    row.consecutive_failures += 1
    session.add(row)


def partners(session: Session) -> dict[str, PartnerHealth]:
    """Every partner's health (and the agency's, under ``"agency"``), by code."""
    return {
        code: PartnerHealth(
            row.partner_code,
            row.last_success_at,
            row.last_error_at,
            row.last_error,
            row.error_kind,
            row.consecutive_failures,
        )
        for code, row in all_rows(session).items()
    }


def all_rows(session: Session) -> dict[str, PartnerHealthRow]:
    rows = session.exec(select(PartnerHealthRow).order_by(col(PartnerHealthRow.partner_code)))
    return {r.partner_code: r for r in rows}
