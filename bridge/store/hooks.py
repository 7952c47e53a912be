"""Webhook deliveries: when each CRM account last delivered, and how many times."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, select

from bridge.model import Hint
from bridge.store.tables import HookDeliveryRow


@dataclass(frozen=True, slots=True)
class Delivery:
    """When a CRM account last delivered webhooks, and how many so far."""

    system: str
    last_at: dt.datetime
    count: int


def delivered(session: Session, hints: Iterable[Hint], now: dt.datetime) -> None:
    """Count one delivery per system that the hints came from."""
    for system, count in Counter(h.system for h in hints).items():
        row = session.get(HookDeliveryRow, system)
        if row is None:
            row = HookDeliveryRow(system=system, last_at=now, count=0)
        row.last_at = now
        row.count += count
        session.add(row)


def deliveries(session: Session) -> dict[str, Delivery]:
    return {s: Delivery(r.system, r.last_at, r.count) for s, r in all_rows(session).items()}


def all_rows(session: Session) -> dict[str, HookDeliveryRow]:
    return {row.system: row for row in session.exec(select(HookDeliveryRow))}
