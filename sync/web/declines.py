"""The console's activity-decline section: what :mod:`bridge.kpi.decline` finds under the
mapping's ``alerts.decline``, with partner names and the line a manager reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bridge.kpi.activity import load_activity, since
from bridge.kpi.decline import Decline, declines, percent
from bridge.kpi.decline_text import decline_line, declines_title
from bridge.mapping.compiled import CompiledMapping
from bridge.notices import Notices
from bridge.store.db import Store


@dataclass(frozen=True, slots=True)
class DeclineRow:
    partner_name: str
    decline: Decline
    text: str  # "смены стадий: 2 против 10 в месяц обычно (−80 %)"


@dataclass(frozen=True, slots=True)
class DeclineSection:
    title: str  # the periods compared and the threshold
    rows: tuple[DeclineRow, ...]


def decline_section(
    store: Store, mapping: CompiledMapping | None, now: dt.datetime, language: str
) -> DeclineSection | None:
    """None when the mapping sets no ``alerts.decline``."""
    rule = mapping.decline if mapping is not None else None
    if mapping is None or rule is None:
        return None
    with store.transaction() as session:
        activity = load_activity(session, since(rule, now))
    notices = Notices(language)
    names = {code: p.name for code, p in mapping.partners.items()}
    rows = tuple(
        DeclineRow(names[d.partner_code], d, decline_line(d, notices))
        for d in declines(activity, rule, now)
        if d.partner_code in names
    )
    title = declines_title(rule.window.days, rule.baseline.days, notices)
    return DeclineSection(f"{title} ({percent(-rule.threshold)})", rows)
