"""What ``bridge status``, ``bridge deal`` and ``bridge parked`` print (store reads only)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from rich.console import Console
from rich.table import Table

from bridge.model import LinkStatus, Money
from bridge.store import audit, cursors, health, inbox, links
from bridge.store.db import Store
from bridge.store.health import PartnerHealth
from bridge.store.links import StoredLink

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


def status_table(store: Store, now: dt.datetime) -> Table:
    """Per partner: links by state, last success, cursor lag, parked count, last error."""
    with store.transaction() as session:
        counts = links.counts_by_status(session)
        rows = health.partners(session)
        lags = {c.system.split(":", 1)[-1]: c.value for c in cursors.load_all(session)}
        waiting = inbox.pending_count(session)
    table = Table(title="partner-bridge status")
    for column in ["partner", *STATUSES, "last sync", "cursor lag", "errors"]:
        table.add_column(column)
    for code in sorted(set(counts) | set(rows) | (set(lags) - {"agency"}) | {"agency"}):
        table.add_row(*_status_row(code, counts.get(code, Counter()), rows, lags, now))
    table.caption = f"hints waiting in the inbox: {sum(waiting.values())}"
    return table


def _status_row(
    code: str,
    count: Counter[str],
    rows: dict[str, PartnerHealth],
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
        rows = links.stored(session, [agency_deal_id])
        trail = audit.events(session, agency_deal_id)
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


def _link_table(link: StoredLink) -> Table:
    state = link.state
    table = Table(title=f"link #{link.id}: agency {state.agency_deal_id} ↔ {state.partner_code}")
    table.add_column("")
    table.add_column("agency")
    table.add_column("partner")
    table.add_row("deal id", state.agency_deal_id, state.partner_deal_id or "(not created)")
    table.add_row("stage", link.agency_stage or "", link.partner_stage or "")
    table.add_row("amount", _money(link.agency_amount), _money(link.partner_amount))
    table.add_row(
        "last seen change", str(state.agency_updated_at or ""), str(state.partner_updated_at or "")
    )
    status = state.status.value + (f" — {state.park_reason}" if state.park_reason else "")
    table.add_row("status", status, "")
    return table


def _money(amount: Money | None) -> str:
    return "" if amount is None else str(amount)


def parked_table(store: Store) -> Table:
    with store.transaction() as session:
        parked = links.parked_links(session)
    table = Table(title=f"parked links: {len(parked)}")
    for column in ("id", "agency deal", "partner", "partner deal", "since", "reason"):
        table.add_column(column)
    for link in parked:
        since = link.parked_at.strftime("%Y-%m-%d %H:%M") if link.parked_at else ""
        table.add_row(
            str(link.id),
            link.state.agency_deal_id,
            link.state.partner_code,
            link.state.partner_deal_id or "",
            since,
            link.state.park_reason or "",
        )
    return table
