"""What a pass hands over, per partner, in words: the ``bridge sync --dry-run`` summary.

A partner that was never synced shows what its first sync will and will not do
(DESIGN §5, the first connection): how many open deals go out, how many closed deals
are recorded and not handed over, under which ``policies.history``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bridge.mapping.compiled import CompiledMapping
from sync.plan.history import policy_text
from sync.plan.types import CloseLink, CreatePartnerDeal, LinkPlan, Park


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def handover_lines(
    plans: Sequence[LinkPlan],
    mapping: CompiledMapping,
    codes: Sequence[str],
    first: Sequence[str],
) -> list[str]:
    """One line per partner in ``codes``; ``first``: the partners never synced before."""
    creates: Counter[str] = Counter()
    history: Counter[str] = Counter()
    parked: Counter[str] = Counter()
    for plan in plans:
        code = plan.link_key[1]
        for op in plan.operations:
            if isinstance(op, CreatePartnerDeal):
                creates[code] += 1
            elif isinstance(op, CloseLink) and op.history:
                history[code] += 1
            elif isinstance(op, Park):
                parked[code] += 1
    lines = []
    for code in codes:
        partner = mapping.partners.get(code)
        if partner is None:
            continue
        policy = policy_text(partner.policies.history)
        label = f"{code} (first sync)" if code in first else code
        verb = "will be" if code in first else "would be"
        text = (
            f"{label}: {_plural(creates[code], 'open deal', 'open deals')} {verb} handed over; "
            f"{_plural(history[code], 'closed deal', 'closed deals')} recorded, not handed "
            f"over (history: {policy})"
        )
        if parked[code]:
            text += f"; {_plural(parked[code], 'deal', 'deals')} parked"
        lines.append(text)
    return lines
