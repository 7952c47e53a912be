"""What ``bridge status``, ``bridge deal`` and ``bridge parked`` print (store reads only)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlmodel import Session

from bridge.model import LinkStatus, Money
from bridge.store import audit, cursors, health, inbox, links
from bridge.store import leads as lead_store
from bridge.store.db import Store
from bridge.store.health import PartnerHealth
from bridge.store.links import StoredLink
from sync.runtime.partner_state import OK, MappingView, partner_state

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


def mapping_views(path: Path) -> tuple[dict[str, MappingView] | None, str | None]:
    """What mapping.yaml says about each partner (paused or not), read without any CRM;
    or None and why it could not be read (status then shows what the store knows)."""
    from bridge.mapping.errors import MappingInvalid
    from bridge.mapping.validate import load_mapping

    try:
        spec = load_mapping(path)
    except MappingInvalid as exc:
        return None, f"{path} has {len(exc.problems)} problem(s); run `bridge check`"
    except OSError as exc:
        return None, f"{path} cannot be read: {exc.strerror}"
    return {code: MappingView(paused=p.paused) for code, p in spec.partners.items()}, None


def status_table(
    store: Store,
    now: dt.datetime,
    mapping: Mapping[str, MappingView] | None = None,
    note: str | None = None,
) -> Table:
    """Per partner: links by state, last success, cursor lag, and its state now (the same
    text as ``/readyz``). ``mapping`` (partner → what mapping.yaml says) adds the partners
    that never ran and those paused in mapping.yaml."""
    with store.transaction() as session:
        counts = links.counts_by_status(session)
        rows = health.partners(session)
        lags = {c.system.split(":", 1)[-1]: c.value for c in cursors.load_all(session)}
        waiting = inbox.pending_count(session)
        received = lead_store.counts(session)
    table = Table(title="partner-bridge status")
    for column in ["partner", *STATUSES, "last sync", "cursor lag", "state"]:
        table.add_column(column)
    codes = set(counts) | set(rows) | (set(lags) - {"agency"}) | {"agency"} | set(mapping or {})
    for code in sorted(codes):
        cells = _status_row(code, counts.get(code, Counter()), rows, lags, now)
        table.add_row(*cells, _state_cell(code, rows.get(code), now, mapping))
    caption = f"hints waiting in the inbox: {sum(waiting.values())}"
    if received:
        caption += "\n" + _leads_line(received)
    table.caption = caption if note is None else f"{caption}\n{note}"
    return table


def _leads_line(counts: Mapping[str, Mapping[lead_store.LeadStatus, int]]) -> str:
    """``partner leads (sourced by partner): amo 3 passed, 1 held — bridge leads``."""
    parts = []
    for code, per in sorted(counts.items()):
        shown = ", ".join(f"{n} {status.value}" for status, n in sorted(per.items()) if n)
        parts.append(f"{code} {shown}")
    return "partner leads (sourced by partner): " + "; ".join(parts) + " — `bridge leads`"


def _state_cell(
    code: str,
    row: PartnerHealth | None,
    now: dt.datetime,
    mapping: Mapping[str, MappingView] | None,
) -> str:
    if mapping is not None and code != "agency" and code not in mapping:
        return "[dim]not in mapping.yaml[/]"
    state = partner_state(row, now, (mapping or {}).get(code), breaker=code != "agency")
    if state == OK:
        return OK
    times = f" (x{row.consecutive_failures})" if row and row.consecutive_failures else ""
    return f"[red]{escape(state)}[/]{times}"


def _status_row(
    code: str,
    count: Counter[str],
    rows: dict[str, PartnerHealth],
    lags: dict[str, dt.datetime | None],
    now: dt.datetime,
) -> list[str]:
    row = rows.get(code)
    cursor = lags.get(code)
    lag = "-" if cursor is None else _ago(cursor, now).replace(" ago", "")
    parked = str(count.get(LinkStatus.PARKED.value, 0))
    cells = [str(count.get(s, 0)) for s in STATUSES]
    cells[STATUSES.index(LinkStatus.PARKED.value)] = (
        f"[yellow]{parked}[/]" if parked != "0" else "0"
    )
    last = _ago(row.last_success_at if row else None, now)
    return [code, *cells, last, lag]


def deal_view(store: Store, agency_deal_id: str, console: Console) -> bool:
    """Both sides' last known values per link and the audit trail; False if unknown."""
    with store.transaction() as session:
        rows = links.stored(session, [agency_deal_id])
        trail = audit.events(session, agency_deal_id)
        sourced = {r.state.partner_code for r in rows if _sourced(session, r)}
    if not rows and not trail:
        return False
    for row in rows:
        console.print(_link_table(row, row.state.partner_code in sourced))
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


def _sourced(session: Session, link: StoredLink) -> bool:
    return lead_store.sourced(session, link.state.partner_code, link.state.agency_deal_id)


def _link_table(link: StoredLink, sourced: bool = False) -> Table:
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
    # The link's own outcome (its partner deal's): under fan-out it differs per partner.
    table.add_row("outcome", "", state.outcome.value if state.outcome else "")
    origin = "partner (a lead it registered)" if sourced else "agency (handed over)"
    table.add_row("sourced by", origin, "")
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


def status_data(store: Store, mapping_path: Path | None = None) -> dict[str, object]:
    """What :func:`status_table` shows, as plain values (``bridge status --format json``)."""
    now = dt.datetime.now(dt.UTC)
    views, note = mapping_views(mapping_path) if mapping_path is not None else (None, None)
    with store.transaction() as session:
        counts = links.counts_by_status(session)
        rows = health.partners(session)
        lags = {c.system.split(":", 1)[-1]: c.value for c in cursors.load_all(session)}
        waiting = inbox.pending_count(session)
        received = lead_store.counts(session)
    codes = set(counts) | set(rows) | (set(lags) - {"agency"}) | {"agency"} | set(views or {})
    partners = []
    for code in sorted(codes):
        row = rows.get(code)
        count = counts.get(code, Counter())
        state = partner_state(row, now, (views or {}).get(code), breaker=code != "agency")
        partners.append(
            {
                "partner": code,
                "links": {s: count.get(s, 0) for s in STATUSES},
                "last_sync": row.last_success_at if row else None,
                "cursor": lags.get(code),
                "state": state,
                "failures_in_a_row": row.consecutive_failures if row else 0,
                "leads": {s.value: n for s, n in sorted(received.get(code, {}).items())},
            }
        )
    return {"partners": partners, "inbox_waiting": sum(waiting.values()), "note": note}


def parked_data(store: Store) -> list[dict[str, object]]:
    """``bridge parked --format json``: one object per parked link."""
    with store.transaction() as session:
        parked = links.parked_links(session)
    return [
        {
            "id": link.id,
            "agency_deal_id": link.state.agency_deal_id,
            "partner": link.state.partner_code,
            "partner_deal_id": link.state.partner_deal_id,
            "parked_at": link.parked_at,
            "reason": link.state.park_reason,
        }
        for link in parked
    ]


def deal_data(store: Store, agency_deal_id: str) -> dict[str, object] | None:
    """``bridge deal --format json``: the links and the audit trail; None if unknown."""
    with store.transaction() as session:
        stored = links.stored(session, [agency_deal_id])
        trail = audit.events(session, agency_deal_id)
        sourced = {r.state.partner_code for r in stored if _sourced(session, r)}
    if not stored and not trail:
        return None
    return {
        "agency_deal_id": agency_deal_id,
        "links": [
            {
                "id": link.id,
                "partner": link.state.partner_code,
                "partner_deal_id": link.state.partner_deal_id,
                "status": link.state.status.value,
                "park_reason": link.state.park_reason,
                "agency_stage": link.agency_stage,
                "agency_amount": link.agency_amount,
                "partner_stage": link.partner_stage,
                "partner_amount": link.partner_amount,
                "sourced_by": "partner" if link.state.partner_code in sourced else "agency",
            }
            for link in stored
        ],
        "audit": list(trail),
    }
