"""Partner activity from the store, for :mod:`bridge.kpi.decline`.

Hand-overs are links with a partner deal (their creation time), wins and the first
stage move come from the KPI facts (:func:`bridge.kpi.query.load_facts`), every
stage move from the audit trail (:func:`bridge.kpi.history.partner_stage_changes`),
read from ``since`` on only.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from bridge.kpi.decline import DeclineRule, PartnerActivity
from bridge.kpi.history import partner_stage_changes
from bridge.kpi.query import StageSemantics, load_facts
from bridge.model import Semantics
from bridge.store.tables import AuditRow


def load_activity(
    session: Session,
    since: dt.datetime,
    stage_semantics: StageSemantics | None = None,
) -> list[PartnerActivity]:
    """Every partner's activity as far back as ``since``."""
    facts = load_facts(session, stage_semantics)
    rows = session.exec(
        select(AuditRow).where(
            col(AuditRow.action).in_(["synced", "update"]), col(AuditRow.at) >= since
        )
    )
    moves: dict[str, list[dt.datetime]] = {}
    for (_, code), times in partner_stage_changes(rows).items():
        moves.setdefault(code, []).extend(times)
    codes = sorted({f.partner_code for f in facts} | set(moves))
    return [
        PartnerActivity(
            partner_code=code,
            handovers=tuple(
                sorted(
                    f.handed_at for f in facts if f.partner_code == code and f.handed_at >= since
                )
            ),
            stage_changes=tuple(sorted(moves.get(code, ()))),
            wins=tuple(
                sorted(
                    f.outcome_at
                    for f in facts
                    if f.partner_code == code
                    and f.outcome is Semantics.WON
                    and f.outcome_at is not None
                    and f.outcome_at >= since
                )
            ),
            reactions=tuple(
                (f.handed_at, f.first_stage_change)
                for f in facts
                if f.partner_code == code
                and f.first_stage_change is not None
                and f.handed_at >= since
            ),
        )
        for code in codes
    ]


def since(rule: DeclineRule, now: dt.datetime) -> dt.datetime:
    """How far back a rule looks: the start of its baseline."""
    return now - rule.window - rule.baseline
