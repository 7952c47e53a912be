"""The first connection is safe by default (DESIGN §5): which deals are history.

Pure. The engine records, per partner, the moment of its first sync (its *start*)
and passes it in :class:`~sync.plan.types.PartnerExtras`. An agency deal is
*history* for a partner — recorded as a closed link with a reason, never created at
the partner, so no commission is booked for it — when all of these hold:

* it is already won or lost (its agency stage's semantics), and
* it was created before the cut-off: the partner's start under
  ``policies.history: open`` (the default); the given date (00:00 UTC), or the start
  if that is earlier, under ``policies.history: YYYY-MM-DD``; never under ``all``.

The criterion uses the deal's creation time, which never changes, so history cannot
leak later: editing an old closed deal does not hand it over. A deal that is
*reopened* is open again and is handed over like any open deal. Only a create is
held back: a partner deal found by the bridge's stamp is adopted as usual.
"""

from __future__ import annotations

import datetime as dt

from bridge.mapping.compiled import PartnerConfig
from bridge.model import Deal, Pipeline, Semantics


def cutoff(policy: str | dt.date, started_at: dt.datetime | None) -> dt.datetime | None:
    """Closed deals created before this moment are not handed over (None: none held back)."""
    if policy == "all":
        return None
    if isinstance(policy, dt.date):
        since = dt.datetime(policy.year, policy.month, policy.day, tzinfo=dt.UTC)
        return since if started_at is None else min(since, started_at)
    return started_at


def policy_text(policy: str | dt.date) -> str:
    return policy.isoformat() if isinstance(policy, dt.date) else policy


def closed_semantics(deal: Deal, pipeline: Pipeline | None) -> Semantics | None:
    """WON or LOST when the agency deal sits in a closing stage, else None."""
    stage = pipeline.stage_by_id(deal.stage_id) if pipeline else None
    if stage is None or stage.semantics is Semantics.OPEN:
        return None
    return stage.semantics


def history_reason(
    deal: Deal,
    pipeline: Pipeline | None,
    partner: PartnerConfig,
    started_at: dt.datetime | None,
) -> str | None:
    """Why ``deal`` is not handed over to ``partner`` as history, or None to hand it over."""
    policy = partner.policies.history
    limit = cutoff(policy, started_at)
    if limit is None or deal.created_at >= limit:
        return None
    semantics = closed_semantics(deal, pipeline)
    if semantics is None:
        return None
    word = "won" if semantics is Semantics.WON else "lost"
    when = "before the partner's first sync" if limit == started_at else f"before {limit:%Y-%m-%d}"
    return (
        f"{word} {when} (created {deal.created_at:%Y-%m-%d}) — recorded, not handed over to "
        f"'{partner.code}', no commission (policies.history: {policy_text(policy)})"
    )
