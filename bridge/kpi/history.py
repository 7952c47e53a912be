"""When did a partner move its deal? Read from the audit trail the sync engine writes.

The engine records, per applied pass, a ``synced`` row for the ``@stage`` slot
holding the pair ``(agency stage, partner stage)`` as the audit writes pairs for
people (``C1:NEW ↔ 71``, :func:`bridge.store.audit.split_pair`), and an ``update``
row per write. A partner stage change is a ``synced`` row whose partner
half changed while the bridge did *not* write the partner's stage in the same
pass (that would be the agency's move mirrored out, not the partner's own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bridge.store.audit import split_pair
from bridge.store.tables import AuditRow

STAGE_SLOT = "@stage"
LinkKey = tuple[str, str]  # (agency deal id, partner code)


def _partner_half(text: str | None) -> str | None:
    pair = split_pair(text)
    return None if pair is None else pair[1]


def _bridge_moved_partner(row: AuditRow) -> bool:
    fields = (row.field or "").split(",")
    return row.action == "update" and row.side == "partner" and "stage_id" in fields


def partner_stage_changes(rows: Iterable[AuditRow]) -> dict[LinkKey, list[dt.datetime]]:
    """Per link, the times the partner changed its deal's stage, oldest first."""
    rows = list(rows)
    mirrored = {(r.agency_deal_id, r.partner_code, r.at) for r in rows if _bridge_moved_partner(r)}
    changes: dict[LinkKey, list[dt.datetime]] = {}
    for row in rows:
        if row.action != "synced" or row.field != STAGE_SLOT or row.old_value is None:
            continue
        if (row.agency_deal_id, row.partner_code, row.at) in mirrored:
            continue
        if _partner_half(row.old_value) != _partner_half(row.new_value):
            changes.setdefault((row.agency_deal_id, row.partner_code), []).append(row.at)
    return {key: sorted(times) for key, times in changes.items()}
