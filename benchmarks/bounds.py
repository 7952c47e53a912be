"""The floors every measured figure is compared with: request minimums and time bounds.

Minimum requests come from the batch sizes alone (reference bitrix24.md §4–§5,
amocrm.md §3–§5):

* Bitrix24 reads: a ``batch`` of 50 chained list commands of 50 rows → 2,500 rows
  per request; writes: 50 commands per ``batch`` (a new partner deal there is two
  commands, its contact and itself).
* amoCRM reads: 250 rows per page; creates: 50 leads (with their contact) per
  ``/leads/complex``; updates: 250 leads per ``PATCH /leads``.

Time bounds. An account's leaky bucket lets ``burst`` requests through at once
and then ``rate`` per second, so ``R`` requests need at least
``max(0, R - burst) / rate`` seconds. Accounts are independent, so with unlimited
concurrency the whole run needs the **max** over accounts (the "rate-limit
lower bound"). Every request also costs the simulated server latency ``L``, and
the engine sends one request at a time, so it cannot beat the **sum** over
accounts of ``max(R·L, (R - burst)/rate + L)`` (the "sequential bound").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

B24_ROWS_PER_REQUEST = 50 * 50
B24_COMMANDS = 50
AMO_PAGE = 250
AMO_COMPLEX = 50
AMO_PATCH = 250


@dataclass(frozen=True)
class Limit:
    burst: int
    rate: float  # requests per second, sustained


B24_LIMIT = Limit(burst=50, rate=2.0)
AMO_LIMIT = Limit(burst=7, rate=7.0)  # 7 per second; no burst beyond one second's worth


def limit_for(kind: str) -> Limit:
    return AMO_LIMIT if kind == "amocrm" else B24_LIMIT


def reads(kind: str, rows: int) -> int:
    if rows <= 0:
        return 0
    return math.ceil(rows / (AMO_PAGE if kind == "amocrm" else B24_ROWS_PER_REQUEST))


def creates(kind: str, deals: int) -> int:
    """A new partner deal with its client contact."""
    if kind == "amocrm":
        return math.ceil(deals / AMO_COMPLEX)
    return math.ceil(2 * deals / B24_COMMANDS)


def updates(kind: str, deals: int) -> int:
    return math.ceil(deals / (AMO_PATCH if kind == "amocrm" else B24_COMMANDS))


def account_seconds(requests: int, limit: Limit) -> float:
    return max(0.0, requests - limit.burst) / limit.rate


def rate_bound(requests: Mapping[str, int], kinds: Mapping[str, str]) -> float:
    """Seconds the busiest account needs under its own limit (unlimited concurrency)."""
    return max((account_seconds(r, limit_for(kinds[a])) for a, r in requests.items()), default=0)


def sequential_bound(
    requests: Mapping[str, int], kinds: Mapping[str, str], latency: float
) -> float:
    """Seconds a one-request-at-a-time client needs: latency and pacing, account by account."""
    total = 0.0
    for account, count in requests.items():
        paced = account_seconds(count, limit_for(kinds[account])) + (latency if count else 0)
        total += max(count * latency, paced)
    return total


def first_mirror_minimum(
    kinds: Mapping[str, str], listed: int, new: int, per_partner: Mapping[str, int]
) -> dict[str, int]:
    """Pipelines once, the change listing, contacts of the new deals, then the creates."""
    minimum = {"agency": 1 + reads("bitrix24", listed) + reads("bitrix24", new)}
    for code, kind in kinds.items():
        minimum[code] = 1 + 1 + creates(kind, per_partner.get(code, 0))
    return minimum


def notes_minimum(
    kinds: Mapping[str, str], passes: int, changed: Mapping[str, int], notes: Mapping[str, int]
) -> dict[str, int]:
    """Notes mirroring on, ``changed[code]`` agency deals edited and a partner note on each.

    Every pass in which the links show up (the edits, then the echoes of the bridge's
    writes) reads both sides' notes of those links in bulk: Bitrix24 50 comment lists
    per ``batch``, amoCRM one note list filtered by many lead ids (250 notes a page).
    On top of the steady-state floor: the edits' partner reads and updates, and the
    mirrored notes written to the agency (50 per ``batch``).
    """
    total = sum(changed.values())
    minimum = steady_minimum(kinds, passes, changed, {})
    agency_reads = passes * math.ceil(total / B24_COMMANDS)
    minimum["agency"] += agency_reads + math.ceil(sum(notes.values()) / B24_COMMANDS)
    for code, kind in kinds.items():
        deals = changed.get(code, 0)
        if not deals:
            continue
        per_pass = reads(kind, notes.get(code, 0) or 1) if kind == "amocrm" else None
        minimum[code] += passes * (per_pass or math.ceil(deals / B24_COMMANDS))
    return minimum


def per_deal_notes_reads(passes: int, changed: Mapping[str, int]) -> int:
    """What one note read per deal and side (the bridge before bulk reads) would cost."""
    return passes * 2 * sum(changed.values())


def steady_minimum(
    kinds: Mapping[str, str],
    passes: int,
    agency_changed: Mapping[str, int],
    partner_changed: Mapping[str, int],
) -> dict[str, int]:
    """One listing per account per pass, then: for agency-side edits, the partner deals' read
    and update; for partner-side edits, the agency deals' read and update."""
    to_agency = sum(partner_changed.values())
    minimum = {
        "agency": passes + reads("bitrix24", to_agency) + updates("bitrix24", to_agency),
    }
    for code, kind in kinds.items():
        edited = agency_changed.get(code, 0)
        minimum[code] = passes + reads(kind, edited) + updates(kind, edited)
    return minimum
