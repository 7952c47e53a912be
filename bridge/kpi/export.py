"""KPIs as CSV (``bridge kpi --format csv``): one row per partner (or group) and currency.

Values are unrounded and machine-readable: amounts as plain decimals, conversion as
a fraction, commission and payouts split by who pays. Cyrillic is kept (UTF-8).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal

from bridge.kpi.compute import PartnerKpi
from bridge.kpi.report import KpiReport
from bridge.mapping.compiled import GROUP_KEYS, Side

COLUMNS = (
    "rank",
    "code",
    "name",
    *GROUP_KEYS,
    "currency",
    "handed",
    "active",
    "won",
    "lost",
    "conversion",
    "won_amount",
    "average_deal",
    "median_days_to_first_stage",
    "days_since_update",
    "stale",
    "accrued_by_partner",
    "accrued_by_agency",
    "paid_by_partner",
    "paid_by_agency",
    "other_currency",
)


def to_csv(reports: Sequence[KpiReport]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for report in reports:
        for place, kpi in enumerate(report.ranked or report.kpis, 1):
            writer.writerow(_row(report, kpi, place if report.ranked else None))
    return out.getvalue()


def _row(report: KpiReport, k: PartnerKpi, place: int | None) -> list[str]:
    if report.by is not None:
        groups = ["" for _ in GROUP_KEYS]
        groups[GROUP_KEYS.index(report.by)] = k.partner_code
    else:
        found = report.groups.get(k.partner_code)
        groups = [(found.of(key) if found else None) or "" for key in GROUP_KEYS]
    return [
        "" if place is None else str(place),
        k.partner_code,
        k.partner_name,
        *groups,
        k.currency,
        str(k.handed),
        str(k.active),
        str(k.won),
        str(k.lost),
        _text(k.conversion),
        _text(k.won_amount),
        _text(k.average_deal),
        _text(k.median_days_to_first_stage),
        _text(k.days_since_update),
        str(k.stale),
        _text(k.accrued.get(Side.PARTNER)),
        _text(k.accrued.get(Side.AGENCY)),
        _text(k.paid.get(Side.PARTNER)),
        _text(k.paid.get(Side.AGENCY)),
        str(k.other_currency),
    ]


def _text(value: Decimal | int | None) -> str:
    return "" if value is None else str(value)
