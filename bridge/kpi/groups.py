"""KPIs per segment, manager or grade (``bridge kpi --by …``). Pure.

A group's figures are computed exactly like a partner's, over the facts and ledger
entries of its partners together (so conversion and the median reaction time are the
group's own, not averages of averages); stale deals add up, each judged by its own
partner's ``stale_after``. Partners without a value for the key form the group
:data:`UNGROUPED`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

from bridge.kpi.compute import LinkFacts, PartnerKpi, Window, partner_kpi
from bridge.ledger.entries import Entry
from bridge.mapping.compiled import Groups

UNGROUPED = "—"


def group_of(groups: Groups | None, by: str) -> str:
    return (groups.of(by) if groups else None) or UNGROUPED


def group_kpis(
    partners: Sequence[PartnerKpi],
    groups: Mapping[str, Groups],
    by: str,
    facts: Sequence[LinkFacts],
    entries: Sequence[Entry],
    window: Window,
    now: dt.datetime,
    *,
    currency: str,
) -> tuple[PartnerKpi, ...]:
    """One :class:`PartnerKpi` per group (its code and name are the group's name)."""
    member = {k.partner_code: group_of(groups.get(k.partner_code), by) for k in partners}
    known = set(member)
    regrouped = [
        dataclasses.replace(f, partner_code=member[f.partner_code])
        for f in facts
        if f.partner_code in known
    ]
    moved = [
        dataclasses.replace(e, partner=member[e.partner]) for e in entries if e.partner in known
    ]
    out = []
    for name in sorted(set(member.values()), key=lambda g: (g == UNGROUPED, g.casefold())):
        mine = [k for k in partners if member[k.partner_code] == name]
        kpi = partner_kpi(
            name,
            name,
            regrouped,
            moved,
            window,
            now,
            stale_after=dt.timedelta(days=7),  # replaced below: each partner's own threshold
            currency=currency,
        )
        seen = [k.days_since_update for k in mine if k.days_since_update is not None]
        out.append(
            dataclasses.replace(
                kpi,
                stale=sum(k.stale for k in mine),
                days_since_update=min(seen) if seen else None,
            )
        )
    return tuple(out)
