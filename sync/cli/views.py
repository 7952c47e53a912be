"""What ``bridge status``, ``bridge deal`` and ``bridge parked`` print (store reads only)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from bridge.store import (
    LinkRow,
    LinkStatus,
    PartnerHealthRow,
    Store,
    audit,
    cursors,
    health,
    inbox,
    links,
)

STATUSES = [s.value for s in LinkStatus]


def _ago(at: dt.datetime | None, now: dt.datetime) -> str:
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


_StatusInputs = tuple[
    dict[str, Counter[str]],
    dict[str, PartnerHealthRow],
    dict[str, dt.datetime | None],
    int,
]


def _status_inputs(store: Store) -> _StatusInputs:
    with store.transaction() as session:
        counts = links.counts_by_status(session)
        rows = health.all_rows(session)
        lags = {c.system.split(":", 1)[-1]: c.value for c in cursors.load_all(session)}
        waiting = inbox.pending_count(session)
    return counts, rows, lags, sum(waiting.values())


def _codes(
    counts: Mapping[str, object], rows: Mapping[str, object], lags: Mapping[str, object]
) -> list[str]:
    return sorted(set(counts) | set(rows) | (set(lags) - {"agency"}) | {"agency"})


def status_table(store: Store, now: dt.datetime) -> Table:
    """Per partner: links by state, last success, cursor lag, parked count, last error."""
    counts, rows, lags, waiting = _status_inputs(store)
    table = Table(title="partner-bridge status")
    for column in ["partner", *STATUSES, "last sync", "cursor lag", "errors"]:
        table.add_column(column)
    for code in _codes(counts, rows, lags):
        table.add_row(*_status_row(code, counts.get(code, Counter()), rows, lags, now))
    table.caption = f"hints waiting in the inbox: {waiting}"
    return table


def status_data(store: Store) -> dict[str, object]:
    """What :func:`status_table` shows, as plain values (``bridge status --format json``)."""
    counts, rows, lags, waiting = _status_inputs(store)
    partners = []
    for code in _codes(counts, rows, lags):
        row = rows.get(code)
        count = counts.get(code, Counter())
        error = None
        if row is not None and row.consecutive_failures:
            error = {
                "kind": row.error_kind,
                "message": row.last_error,
                "consecutive": row.consecutive_failures,
            }
        partners.append(
            {
                "partner": code,
                "links": {s: count.get(s, 0) for s in STATUSES},
                "last_sync": row.last_success_at if row else None,
                "cursor": lags.get(code),
                "error": error,
            }
        )
    return {"partners": partners, "inbox_waiting": waiting}


def _status_row(
    code: str,
    count: Counter[str],
    rows: dict[str, PartnerHealthRow],
    lags: dict[str, dt.datetime | None],
    now: dt.datetime,
) -> list[str]:
    row = rows.get(code)
    error = "-"
    if row is not None and row.consecutive_failures:
        error = f"[red]{row.error_kind}: {row.last_error}[/] (x{row.consecutive_failures})"
    cursor = lags.get(code)
    lag = "-" if cursor is None else _ago(cursor, now).replace(" ago", "")
    parked = str(count.get(LinkStatus.PARKED.value, 0))
    cells = [str(count.get(s, 0)) for s in STATUSES]
    cells[STATUSES.index(LinkStatus.PARKED.value)] = (
        f"[yellow]{parked}[/]" if parked != "0" else "0"
    )
    last = _ago(row.last_success_at if row else None, now)
    return [code, *cells, last, lag, error]


def deal_view(store: Store, agency_deal_id: str, console: Console) -> bool:
    """Both sides' last known values per link and the audit trail; False if unknown."""
    with store.transaction() as session:
        rows = links.by_agency_ids(session, [agency_deal_id])
        trail = audit.trail(session, agency_deal_id)
    if not rows and not trail:
        return False
    for row in rows:
        console.print(_link_table(row))
    table = Table(title=f"audit trail of agency deal {agency_deal_id}")
    for column in (
        "at",
        "partner",
        "action",
        "by",
        "side",
        "field",
        "old → new",
        "winner",
        "loser",
    ):
        table.add_column(column)
    for entry in trail:
        table.add_row(
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.partner_code,
            entry.action,
            entry.changed_by or "",
            entry.side or "",
            entry.field or "",
            f"{entry.old_value or '∅'} → {entry.new_value or entry.detail or '∅'}",
            entry.winner or "",
            entry.loser_value or "",
        )
    console.print(table)
    return True


def _link_table(row: LinkRow) -> Table:
    table = Table(title=f"link #{row.id}: agency {row.agency_deal_id} ↔ {row.partner_code}")
    table.add_column("")
    table.add_column("agency")
    table.add_column("partner")
    table.add_row("deal id", row.agency_deal_id, row.partner_deal_id or "(not created)")
    table.add_row("stage", row.agency_stage or "", row.partner_stage or "")
    table.add_row(
        "amount",
        _money(row.agency_amount, row.agency_currency),
        _money(row.partner_amount, row.partner_currency),
    )
    table.add_row(
        "last seen change", str(row.agency_updated_at or ""), str(row.partner_updated_at or "")
    )
    status = row.status + (f" — {row.park_reason}" if row.park_reason else "")
    table.add_row("status", status, "")
    return table


def _money(amount: object, currency: str | None) -> str:
    return "" if amount is None else f"{amount} {currency or ''}".strip()


def parked_rows(store: Store) -> list[LinkRow]:
    with store.transaction() as session:
        return links.parked(session)


def parked_data(store: Store) -> list[dict[str, object]]:
    """``bridge parked --format json``: one object per parked link."""
    return [
        {
            "id": row.id,
            "agency_deal_id": row.agency_deal_id,
            "partner": row.partner_code,
            "partner_deal_id": row.partner_deal_id,
            "parked_at": row.parked_at,
            "reason": row.park_reason,
        }
        for row in parked_rows(store)
    ]


def deal_data(store: Store, agency_deal_id: str) -> dict[str, object] | None:
    """``bridge deal --format json``: the links and the audit trail; None if unknown."""
    with store.transaction() as session:
        rows = links.by_agency_ids(session, [agency_deal_id])
        trail = audit.trail(session, agency_deal_id)
    if not rows and not trail:
        return None
    return {"agency_deal_id": agency_deal_id, "links": list(rows), "audit": list(trail)}


def parked_table(store: Store) -> Table:
    rows = parked_rows(store)
    table = Table(title=f"parked links: {len(rows)}")
    for column in ("id", "agency deal", "partner", "partner deal", "since", "reason"):
        table.add_column(column)
    for row in rows:
        since = row.parked_at.strftime("%Y-%m-%d %H:%M") if row.parked_at else ""
        table.add_row(
            str(row.id),
            row.agency_deal_id,
            row.partner_code,
            row.partner_deal_id or "",
            since,
            row.park_reason or "",
        )
    return table
